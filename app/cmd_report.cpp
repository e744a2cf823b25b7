#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "commands.h"
#include "lenet5/report/report.h"
#include "report_observer.h"

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

struct ReportOptions {
  std::string run_dir;
  std::string data_dir;  // empty: config.json's data_dir
};

void run_report(const ReportOptions& options) {
  if (!fs::is_directory(options.run_dir)) throw std::invalid_argument("RUN_DIR: " + options.run_dir + " is not a folder");
  if (!report::looks_like_run(options.run_dir)) {
    throw std::invalid_argument("RUN_DIR: " + options.run_dir +
                                " holds no training run (no config.json, metrics.jsonl or evaluation.json)");
  }
  std::string variant = report::run_variant(options.run_dir);
  if (variant != "classic" && variant != "modern") variant.clear();
  auto inputs = report_inputs(options.run_dir, variant);
  if (!options.data_dir.empty()) {
    const fs::path raw = fs::path(options.data_dir) / "t10k-images-idx3-ubyte";
    inputs.test_images = fs::exists(raw) ? raw.string() : raw.string() + ".gz";
  }
  const std::string written = report::write_report(inputs);  // "wrote" only once it is written
  std::cout << "wrote " << written << "\n";
}

}  // namespace

void setup_report(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  auto* sub = app.add_subcommand("report", "Write RUN_DIR/report.html: curves, confusion matrix, mistakes, architecture");
  sub->add_option("run_dir", options->run_dir, "Run folder written by lenet5 train")->required();
  sub->add_option("--data", options->data_dir, "Dataset folder with the test images (default: config.json's data_dir)")
      ->check(CLI::ExistingDirectory);
  sub->callback([options] { run_report(*options); });
}

}  // namespace lenet5::app
