#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/checkpoint.h"

namespace lenet5::app {
namespace {

struct ExportOptions {
  std::string checkpoint;
  std::string out;
  bool optimize = false;
};

void run_export(const ExportOptions& options) {
  auto loaded = load_checkpoint_flag(options.checkpoint, "it is exported already");
  const auto metadata = deploy::metadata_from_checkpoint(loaded.info, options.checkpoint);
  const auto report = deploy::export_torchscript(loaded.model, metadata, options.out, options.optimize);
  std::cout << "exported " << model::variant_name(loaded.info.variant) << " LeNet-5 ("
            << data::dataset_kind_name(loaded.info.dataset) << ", epoch " << loaded.info.epoch;
  if (loaded.info.test_accuracy >= 0) {
    std::cout << ", test accuracy " << std::fixed << std::setprecision(2) << 100.0 * loaded.info.test_accuracy << "%";
  }
  std::cout << ") to " << options.out << ", " << report.bytes << " bytes"
            << (options.optimize ? ", optimised: " + report.optimization : std::string()) << "\n"
            << "input: " << deploy::kInputContract << "\n"
            << "output: " << deploy::kOutputContract << "\n";
  if (!report.optimization_note.empty()) std::cerr << "lenet5: note: " << report.optimization_note << "\n";
}

}  // namespace

void setup_export(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  auto* sub = app.add_subcommand("export", "Export a checkpoint as a self-contained TorchScript model");
  sub->add_option("--checkpoint", options->checkpoint, "Training checkpoint (checkpoint.pt, best.pt)")->required();
  sub->add_option("--out", options->out, "TorchScript file to write (model.pt)")->required();
  sub->add_flag("--optimize", options->optimize,
                "Freeze the weights into the graph (plus optimize_for_inference where its result can be saved)");
  sub->callback([options] { run_export(*options); });
}

}  // namespace lenet5::app
