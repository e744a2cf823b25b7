#include "lenet5/engine/progress.h"

#include <unistd.h>

#include <cmath>
#include <string>

namespace lenet5::engine {
namespace {

std::string duration_text(double seconds) {
  const auto total = static_cast<long>(std::lround(std::max(0.0, seconds)));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

}  // namespace

ConsoleProgress::ConsoleProgress(std::FILE* out) : out_(out), live_(::isatty(fileno(out)) != 0) {}

void ConsoleProgress::on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) {
  std::fprintf(out_, "training on %s, run folder %s%s\n", device.c_str(), run_dir.c_str(),
               first_epoch > 1 ? (", resuming at epoch " + std::to_string(first_epoch)).c_str() : "");
  std::fflush(out_);
}

void ConsoleProgress::on_progress(const BatchProgress& p) {
  if (!live_) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * p.batch / std::max<int64_t>(1, p.batches));
  const std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s",
               static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), bar.c_str(),
               static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss, 100 * p.accuracy,
               p.images_per_second, duration_text(p.eta_seconds).c_str());
  std::fflush(out_);
}

void ConsoleProgress::on_epoch_end(const EpochMetrics& m) {
  if (live_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "epoch %lld: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%%", static_cast<long long>(m.epoch),
               m.train_loss, 100 * m.train_accuracy, m.test_loss, 100 * m.test_accuracy);
  if (m.val_accuracy) std::fprintf(out_, " | val acc %.2f%%", 100 * *m.val_accuracy);
  std::fprintf(out_, " | lr %.2g | %.1f s, %.0f img/s\n", m.lr, m.seconds, m.images_per_second);
  std::fflush(out_);
}

void ConsoleProgress::on_finish(const TrainResult& r) {
  if (r.target_reached_epoch) {
    std::fprintf(out_, "target accuracy reached at epoch %lld\n", static_cast<long long>(*r.target_reached_epoch));
  }
  std::fprintf(out_, "done: best test accuracy %.2f%%, %s total, %.0f img/s; run folder %s\n",
               100 * r.best_test_accuracy, duration_text(r.seconds).c_str(), r.images_per_second, r.run_dir.c_str());
  std::fflush(out_);
}

}  // namespace lenet5::engine
