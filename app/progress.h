// What a person sees of training and evaluation on the terminal: live progress bars, plain lines otherwise.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "lenet5/engine/trainer.h"

namespace lenet5::app {

// The width of the terminal `out` writes to (TIOCGWINSZ), else $COLUMNS, else 80.
int terminal_columns(std::FILE* out);
// One progress line that fits in `columns` - 1 characters (a line as wide as the terminal wraps on some): the
// bar shrinks, then goes, then the line is cut.
std::string progress_line(const engine::BatchProgress& progress, int columns);
std::string evaluation_line(int64_t done, int64_t total, int columns);

// A live "testing [###...] 3000/10000" line on a terminal, shown once an evaluation has taken a second.
class EvaluationProgress {
 public:
  explicit EvaluationProgress(std::FILE* out = stderr);
  ~EvaluationProgress();
  void update(int64_t done, int64_t total, double seconds);
  void clear();  // removes the line, if shown

 private:
  std::FILE* out_;
  bool live_;
  bool shown_ = false;
};

// Prints training progress: on a terminal a live bar per epoch, otherwise one plain line per epoch.
class ConsoleProgress : public engine::TrainObserver {
 public:
  explicit ConsoleProgress(std::FILE* out = stdout);
  void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) override;
  void on_progress(const engine::BatchProgress& progress) override;
  void on_evaluation_progress(int64_t done, int64_t total, double seconds) override;
  void on_epoch_end(const engine::EpochMetrics& metrics) override;
  void on_finish(const engine::TrainResult& result) override;
  void end_line();  // ends a live line (before a message on another stream)

 private:
  std::FILE* out_;
  bool live_;
  EvaluationProgress evaluation_;
};

}  // namespace lenet5::app
