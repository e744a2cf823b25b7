#include <iostream>
#include <memory>

#include "commands.h"
#include "summary_format.h"

namespace lenet5::app {
namespace {

struct SummaryOptions {
  model::Variant variant = model::Variant::kModern;
  bool json = false;
};

void run_summary(const SummaryOptions& options) {
  model::LeNet5 net(options.variant);
  const auto summary = model::summarize(net);
  std::cout << (options.json ? format_summary_json(summary) + "\n" : format_summary_table(summary));
}

}  // namespace

void setup_summary(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  auto* sub = app.add_subcommand("summary", "Print the layers, output shapes, parameters and connections");
  add_variant_option(*sub, options->variant);
  sub->add_flag("--json", options->json, "Print one JSON object instead of a table");
  sub->callback([options] { run_summary(*options); });
}

}  // namespace lenet5::app
