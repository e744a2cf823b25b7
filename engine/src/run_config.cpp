#include "run_config.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "lenet5/engine/device.h"
#include "lenet5/files/read.h"
#include "lenet5/run_files/file_names.h"
#include "lenet5/version.h"

namespace lenet5::engine {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One setting of a run's recipe: the train flag that sets it and its key in config.json.
struct RecipeSetting {
  const char* flag;
  const char* key;
  std::function<json(const TrainOptions&)> get;
  std::function<void(TrainOptions&, const json&)> set;
};

template <typename T>
RecipeSetting setting(const char* flag, const char* key, T TrainOptions::*member) {
  return {flag, key, [member](const TrainOptions& o) { return json(o.*member); },
          [member](TrainOptions& o, const json& value) { o.*member = value.get<T>(); }};
}

// A setting that config.json holds by its name in the enum's one name table; an unknown name throws
// std::invalid_argument.
template <typename Enum>
RecipeSetting named_setting(const char* flag, const char* key, Enum TrainOptions::*member, std::string (*name_of)(Enum),
                            Enum (*parse)(const std::string&)) {
  return {flag, key, [member, name_of](const TrainOptions& o) { return json(name_of(o.*member)); },
          [member, parse](TrainOptions& o, const json& value) { o.*member = parse(value.get<std::string>()); }};
}

// What a resume may not change: everything that decides the weights, except --epochs (checked apart) and
// --threads/--device/--data, which belong to the machine.
const std::vector<RecipeSetting>& recipe() {
  static const std::vector<RecipeSetting> settings = {
      named_setting("--dataset", "dataset", &TrainOptions::dataset, data::dataset_kind_name, data::parse_dataset_kind),
      named_setting("--variant", "variant", &TrainOptions::variant, model::variant_name, model::parse_variant),
      setting("--batch-size", "batch_size", &TrainOptions::batch_size),
      named_setting("--optimizer", "optimizer", &TrainOptions::optimizer, optimizer_name, parse_optimizer),
      {"--lr", "lr", [](const TrainOptions& o) { return json(resolved_learning_rate(o)); },
       [](TrainOptions& o, const json& value) { o.lr = value.get<double>(); }},
      setting("--momentum", "momentum", &TrainOptions::momentum),
      setting("--weight-decay", "weight_decay", &TrainOptions::weight_decay),
      named_setting("--schedule", "schedule", &TrainOptions::schedule, schedule_name, parse_schedule),
      setting("--augment", "augment", &TrainOptions::augment),
      setting("--val-split", "val_split", &TrainOptions::val_split),
      setting("--seed", "seed", &TrainOptions::seed),
      setting("--limit-train", "train_limit", &TrainOptions::train_limit),
      setting("--limit-test", "test_limit", &TrainOptions::test_limit),
      setting("--target-accuracy", "target_accuracy", &TrainOptions::target_accuracy),
  };
  return settings;
}

std::string config_path(const std::string& run_dir) { return (fs::path(run_dir) / run_files::kConfig).string(); }

}  // namespace

int world_size_of(const TrainOptions& options) {
  return options.collective != nullptr ? options.collective->world_size() : 1;
}

double resolved_learning_rate(const TrainOptions& options) {
  return options.lr > 0 ? options.lr : recommended_learning_rate(options.optimizer, options.variant);
}

json run_config_json(const TrainOptions& options, const std::string& run_dir, const torch::Device& device) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  json config{{"data_dir", options.data_dir}, {"epochs", options.epochs}};
  for (const auto& s : recipe()) config[s.key] = s.get(options);
  config["device"] = device.str();
  config["threads"] = torch::get_num_threads();
  config["world_size"] = world_size_of(options);
  config["run_dir"] = run_dir;
  config["versions"] = {{"lenet5", kVersion}, {"torch", torch_version()}};
  config["host"] = host;
  return config;
}

json read_run_config(const std::string& run_dir) {
  const std::string path = config_path(run_dir);
  if (!files::exists(path)) {
    throw std::invalid_argument("--resume: " + path + " does not exist; it records the run's settings");
  }
  const std::string text = files::read_input(path, files::InputKind::kRunFile);  // only a regular file
  try {
    auto config = json::parse(text);
    if (!config.is_object()) throw std::invalid_argument("not a JSON object");
    return config;
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": unreadable run settings: " + e.what());
  }
}

void check_resume_keeps_recipe(const TrainOptions& options, const json& config, const std::string& run_dir) {
  const std::string path = config_path(run_dir);
  for (const auto& s : recipe()) {
    if (!config.contains(s.key)) continue;  // written by an older lenet5: nothing to hold it to
    const json wanted = s.get(options);
    if (wanted != config.at(s.key)) {
      throw std::invalid_argument(std::string(s.flag) + ": the run in " + run_dir + " was started with " +
                                  config.at(s.key).dump() + " (" + path + "), not " + wanted.dump() +
                                  "; a resumed run keeps its settings: drop the flag, or start a new run");
    }
  }
  const int64_t planned = config.value("epochs", int64_t{0});
  if (options.epochs < planned) {
    throw std::invalid_argument("--epochs: the run in " + run_dir + " is planned for " + std::to_string(planned) +
                                " epochs (" + path + "); a resume may raise it, not lower it to " +
                                std::to_string(options.epochs));
  }
}

json record_resume(json config, const TrainOptions& options, int64_t first_epoch, const torch::Device& device) {
  config["epochs"] = options.epochs;
  config["resumes"].push_back({{"at_epoch", first_epoch},
                               {"epochs", options.epochs},
                               {"device", device.str()},
                               {"threads", torch::get_num_threads()},
                               {"world_size", world_size_of(options)},
                               {"data_dir", options.data_dir},
                               {"lenet5", kVersion}});
  return config;
}

TrainOptions resume_options(const TrainOptions& requested, const std::set<std::string>& given) {
  if (requested.out_dir.empty()) throw std::invalid_argument("--resume: needs --out RUN_DIR, the run to continue");
  const std::string checkpoint = (fs::path(requested.out_dir) / run_files::kCheckpoint).string();
  if (!fs::exists(checkpoint)) throw std::invalid_argument("--resume: " + checkpoint + " does not exist");
  const json config = read_run_config(requested.out_dir);
  TrainOptions options = requested;  // the machine's settings and everything that is not part of the recipe
  try {
    for (const auto& s : recipe()) {
      if (given.count(s.flag) == 0 && config.contains(s.key)) s.set(options, config.at(s.key));
    }
    if (given.count("--epochs") == 0 && config.contains("epochs")) options.epochs = config.at("epochs").get<int64_t>();
    if (given.count("--data") == 0 && config.contains("data_dir"))
      options.data_dir = config.at("data_dir").get<std::string>();
  } catch (const json::exception& e) {
    throw std::runtime_error(config_path(requested.out_dir) + ": unreadable run settings: " + e.what());
  } catch (const std::invalid_argument& e) {  // a name that no name table knows
    throw std::runtime_error(config_path(requested.out_dir) + ": unreadable run settings: " + e.what());
  }
  options.resume = true;
  check_resume_keeps_recipe(options, config, requested.out_dir);
  return options;
}

}  // namespace lenet5::engine
