#pragma once

#include <cstdio>

#include "lenet5/engine/trainer.h"

namespace lenet5::engine {

// Prints training progress: on a terminal a live bar per epoch, otherwise one plain line per epoch.
class ConsoleProgress : public TrainObserver {
 public:
  explicit ConsoleProgress(std::FILE* out = stdout);
  void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) override;
  void on_progress(const BatchProgress& progress) override;
  void on_epoch_end(const EpochMetrics& metrics) override;
  void on_finish(const TrainResult& result) override;

 private:
  std::FILE* out_;
  bool live_;
};

}  // namespace lenet5::engine
