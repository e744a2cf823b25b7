#include <cstdlib>

#include "commands.h"

namespace lenet5::app {

void add_data_option(CLI::App& sub, std::string& data_dir) {
  const char* env = std::getenv("LENET5_DATA");
  if (env != nullptr && *env) data_dir = env;
  auto* option = sub.add_option("--data", data_dir,
                                "Dataset folder with the four IDX files, raw or .gz (default: $LENET5_DATA)")
                     ->check(CLI::ExistingDirectory);
  if (data_dir.empty()) option->required();
}

void add_device_option(CLI::App& sub, std::string& device) {
  sub.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
}

}  // namespace lenet5::app
