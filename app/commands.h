// Each subcommand: setup_x registers its flags into an options struct and a callback that runs it.
// The flags several subcommands share, and the one rule every numeric or named value follows, live here
// (common_options.cpp), so that a flag means and checks the same thing in every subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/threads.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::app {

void setup_summary(CLI::App& app);
void setup_train(CLI::App& app);
void setup_eval(CLI::App& app);
void setup_export(CLI::App& app);
void setup_predict(CLI::App& app);
void setup_bench(CLI::App& app);
void setup_visualize(CLI::App& app);
void setup_report(CLI::App& app);
void setup_serve(CLI::App& app);

// Documented maxima of the numeric flags (README, "The CLI").
constexpr int64_t kMaxBatchSize = 65536;  // images per forward pass (eval, bench): 2^16 classic images need ~3 GB
// train's --batch-size may exceed the training set: that is one step per epoch, nothing is allocated for it.
constexpr int64_t kMaxTrainBatchSize = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxThreads = engine::kMaxThreads;
constexpr int64_t kMaxEpochs = 1000000;
constexpr int64_t kMaxIterations = 100000000;
constexpr int64_t kMaxImages = 1000000000;               // --limit-train, --limit-test
constexpr int64_t kMaxSeed = 9007199254740992;           // 2^53: every seed up to it is exact as a double too
constexpr double kMaxSeconds = 3600;                     // per bench measurement
constexpr int64_t kMaxServeBatch = 1024;                 // serve --max-batch
constexpr int64_t kMaxServeDelayMicroseconds = 1000000;  // serve --max-delay-us: 1 s

// The one check of a numeric flag: a finite number (a whole one when `whole`) in [min, max] (above min,
// not equal, when `above_min`). The message names the value and the bounds as typed numbers; CLI11 adds
// the flag's name. NaN, inf and out-of-range values fail the same way for every flag.
CLI::Validator number_in(long double min, long double max, bool whole, bool above_min = false);
inline CLI::Validator whole_number(int64_t min, int64_t max) {
  return number_in(static_cast<long double>(min), static_cast<long double>(max), true);
}
inline CLI::Validator real_number(double min, double max, bool above_min = false) {
  return number_in(min, max, false, above_min);
}
// One of `names`; otherwise "unknown value 'x'; expected a, b or c" with the closest name suggested.
CLI::Validator one_of(std::vector<std::string> names);

// An enum's one name table, as its library keeps it (model::variant_names(), bench::mode_names()...).
template <typename Enum>
using NameTable = std::vector<std::pair<std::string, Enum>>;

template <typename Enum>
std::vector<std::string> names_in(const NameTable<Enum>& table) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.push_back(entry.first);
  return names;
}

template <typename Enum>
std::string name_in(const NameTable<Enum>& table, Enum value) {
  for (const auto& [name, known] : table) {
    if (known == value) return name;
  }
  return "?";
}

// A name of the table into its enum, by CLI11's CheckedTransformer; a wrong name fails as one_of says.
template <typename Enum>
CLI::Validator enum_from(const NameTable<Enum>& table) {
  const CLI::Validator known = one_of(names_in(table));
  const CLI::Validator to_value = CLI::CheckedTransformer(table);
  return CLI::Validator(
      [known, to_value](std::string& text) {
        const std::string problem = known(text);
        return problem.empty() ? to_value(text) : problem;
      },
      "", "one of");
}

// --flag NAME into `value` (an enum, or a std::vector of them for comma-separated lists); the help shows
// the names, a|b|c, and the default as names.
template <typename Enum, typename Value>
CLI::Option* add_enum_option(CLI::App& sub, const std::string& flag, Value& value, const NameTable<Enum>& table,
                             const std::string& description) {
  std::string choices;
  for (const auto& name : names_in(table)) choices += (choices.empty() ? "" : "|") + name;
  if constexpr (std::is_same_v<Value, Enum>) {
    return sub.add_option(flag, value, description)
        ->transform(enum_from(table))
        ->type_name(choices)
        ->default_str(name_in(table, value));
  } else {  // a function: glog's operator<< for vectors would break CLI11's default capture of enums
    std::string defaults;
    for (const Enum& each : value) defaults += (defaults.empty() ? "" : ",") + name_in(table, each);
    return sub
        .add_option_function<Value>(
            flag, [&value](const Value& given) { value = given; }, description)
        ->transform(enum_from(table))
        ->type_name(choices)
        ->default_str(defaults);
  }
}

// --variant modern|classic into the enum, default modern.
void add_variant_option(CLI::App& sub, model::Variant& variant, const std::string& description = "Network variant");
// --device auto|cpu|cuda|cuda:N (default auto: CUDA when available, else CPU). Malformed values are usage
// errors; a device that is not there is a runtime error (exit 1) when the command resolves it.
void add_device_option(CLI::App& sub, std::string& device);
// --data DIR. When it is not given, resolve_data_dir falls back to $LENET5_DATA_DIR/<dataset>.
void add_data_option(CLI::App& sub, std::string& data_dir);
// Throws the usage error "--data is required" when neither --data nor the variable is set.
void require_data_source(const std::string& data_flag);
// The dataset folder to read: --data, else $LENET5_DATA_DIR/<dataset> (checked exactly as --data is).
std::string resolve_data_dir(const std::string& data_flag, data::DatasetKind dataset);
constexpr const char* kDataEnvironmentVariable = "LENET5_DATA_DIR";

// load_checkpoint for a --checkpoint flag: an exported TorchScript file gets a message that says what to
// use instead (`instead`, e.g. "use --model FILE").
engine::LoadedCheckpoint load_checkpoint_flag(const std::string& path, const std::string& instead);

// The closest of `candidates` to `word` when it is close enough to be a typo, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace lenet5::app
