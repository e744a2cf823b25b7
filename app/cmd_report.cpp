#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <array>
#include <fstream>

#include "commands.h"
#include "lenet5/data/dataset_files.h"
#include "lenet5/data/idx.h"
#include "lenet5/report/report.h"
#include "lenet5/run_files/file_names.h"
#include "report_observer.h"

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

struct ReportOptions {
  std::string run_dir;
  std::string data_dir;  // empty: config.json's data_dir
};

// The test images in `dir`, raw or gzipped; the raw name when neither is there (the report says so in a note).
std::string test_images_file(const std::string& dir) {
  const std::string name = data::split_file_name(data::Split::kTest, /*labels=*/false);
  return data::find_idx_file(dir, name).value_or((fs::path(dir) / name).string());
}

// The run's evaluation.json scored the first n test images of its dataset: the --data folder must hold the
// same labels there (class counts and each listed mistake), or the report would caption other images.
void check_test_data_matches_run(const std::string& run_dir, const std::string& data_dir) {
  std::ifstream in(fs::path(run_dir) / run_files::kEvaluation);
  const auto evaluation = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!evaluation.is_object() || !evaluation.contains("n") || !evaluation.contains("confusion"))
    return;  // nothing to caption
  std::ifstream config_in(fs::path(run_dir) / run_files::kConfig);
  const auto config = nlohmann::json::parse(config_in, nullptr, false);
  const std::string dataset = config.is_object() ? config.value("dataset", std::string("?")) : "?";
  const std::string mismatch = "--data: the test labels in " + data_dir +
                               " are not those this run was evaluated on (its dataset: " + dataset +
                               ", per config.json); pass the run's dataset folder";
  const auto labels =
      data::read_idx_file(data::find_split_file(data_dir, data::Split::kTest, /*labels=*/true), data::IdxKind::kLabels)
          .values;
  try {
    const auto n = evaluation.at("n").get<size_t>();
    if (labels.size() < n) throw std::invalid_argument(mismatch);
    std::array<int64_t, 256> counts{};
    for (size_t i = 0; i < n; ++i) ++counts[labels[i]];
    const auto& confusion = evaluation.at("confusion");
    for (size_t t = 0; t < confusion.size() && t < counts.size(); ++t) {
      int64_t row = 0;
      for (const auto& count : confusion[t]) row += count.get<int64_t>();
      if (row != counts[t]) throw std::invalid_argument(mismatch);
    }
    for (const auto& mistake : evaluation.value("worst_mistakes", nlohmann::json::array())) {
      const auto index = mistake.at("index").get<size_t>();
      if (index >= labels.size() || labels[index] != mistake.at("label").get<int64_t>())
        throw std::invalid_argument(mismatch);
    }
  } catch (const nlohmann::json::exception&) {
    return;  // a malformed evaluation.json is the report's to name
  }
}

void run_report(const ReportOptions& options) {
  if (!fs::is_directory(options.run_dir))
    throw std::invalid_argument("RUN_DIR: " + options.run_dir + " is not a folder");
  if (!report::looks_like_run(options.run_dir)) {
    throw std::invalid_argument("RUN_DIR: " + options.run_dir +
                                " holds no training run (no config.json, metrics.jsonl or evaluation.json)");
  }
  std::string variant = report::run_variant(options.run_dir);
  const auto known = names_in(model::variant_names());
  if (std::find(known.begin(), known.end(), variant) == known.end()) variant.clear();
  auto inputs = report_inputs(options.run_dir, variant);
  if (!options.data_dir.empty()) {
    check_test_data_matches_run(options.run_dir, options.data_dir);
    inputs.test_images = test_images_file(options.data_dir);
  }
  const std::string written = report::write_report(inputs);  // "wrote" only once it is written
  std::cout << "wrote " << written << "\n";
}

}  // namespace

void setup_report(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  auto* sub =
      app.add_subcommand("report", "Write RUN_DIR/report.html: curves, confusion matrix, mistakes, architecture");
  sub->add_option("run_dir", options->run_dir, "Run folder written by lenet5 train")->required();
  sub->add_option("--data", options->data_dir, "Dataset folder with the test images (default: config.json's data_dir)")
      ->check(CLI::ExistingDirectory);
  sub->callback([options] { run_report(*options); });
}

}  // namespace lenet5::app
