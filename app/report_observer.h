// Keeps RUN_DIR/report.html current during training, and the conversions the report commands share.
#pragma once

#include <string>
#include <vector>

#include "lenet5/engine/trainer.h"
#include "lenet5/report/report.h"

namespace lenet5::app {

// The layers of a variant ("classic" | "modern") as the report library draws them.
std::vector<report::DiagramLayer> diagram_layers(const std::string& variant);
// Everything the report of a run needs besides its files; `variant` empty: no architecture section.
report::ReportInputs report_inputs(const std::string& run_dir, const std::string& variant);

// Rewrites the report when training starts and after every epoch. A failure to write it is reported once on
// stderr and never stops training.
class ReportObserver : public engine::TrainObserver {
 public:
  explicit ReportObserver(std::string variant);
  void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) override;
  void on_epoch_end(const engine::EpochMetrics& metrics) override;

 private:
  void write();

  std::string variant_;
  report::ReportInputs inputs_;
  bool warned_ = false;
};

// Forwards every event to each observer in order.
class FanOutObserver : public engine::TrainObserver {
 public:
  explicit FanOutObserver(std::vector<engine::TrainObserver*> observers);
  void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) override;
  void on_progress(const engine::BatchProgress& progress) override;
  void on_epoch_end(const engine::EpochMetrics& metrics) override;
  void on_finish(const engine::TrainResult& result) override;

 private:
  std::vector<engine::TrainObserver*> observers_;
};

}  // namespace lenet5::app
