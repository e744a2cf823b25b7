#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace lenet5::app {
namespace {

constexpr int kFallbackColumns = 80;
constexpr int kBarWidth = 30;
constexpr int kSmallestBar = 10;
constexpr double kEvaluationQuietSeconds = 1.0;  // evaluations shorter than this show no progress

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

// prefix + " [bar] " + suffix in at most columns - 1 characters.
std::string fit(const std::string& prefix, double fraction, const std::string& suffix, int columns) {
  const int room = std::max(1, columns - 1);
  const int bar = std::min<int>(kBarWidth, room - static_cast<int>(prefix.size() + suffix.size()) - 4);
  std::string line = prefix;
  if (bar >= kSmallestBar) {
    const int filled = std::clamp(static_cast<int>(bar * fraction), 0, bar);
    line += " [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(bar - filled), '.') +
            "]";
  }
  line += " " + suffix;
  if (static_cast<int>(line.size()) > room) line.resize(static_cast<size_t>(room));
  return line;
}

}  // namespace

int terminal_columns(std::FILE* out) {
  winsize size{};
  if (::ioctl(fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int value = std::atoi(columns);
    if (value > 0) return value;
  }
  return kFallbackColumns;
}

std::string progress_line(const engine::BatchProgress& p, int columns) {
  char prefix[64], suffix[160];
  std::snprintf(prefix, sizeof prefix, "epoch %lld/%lld", static_cast<long long>(p.epoch),
                static_cast<long long>(p.epochs));
  std::snprintf(suffix, sizeof suffix, "%lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %s",
                static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.loss, 100 * p.accuracy,
                p.images_per_second, duration_text(p.eta_seconds).c_str());
  return fit(prefix, static_cast<double>(p.batch) / static_cast<double>(std::max<int64_t>(1, p.batches)), suffix,
             columns);
}

std::string evaluation_line(int64_t done, int64_t total, int columns) {
  const std::string suffix = std::to_string(done) + "/" + std::to_string(total) + " images";
  return fit("testing", static_cast<double>(done) / static_cast<double>(std::max<int64_t>(1, total)), suffix, columns);
}

EvaluationProgress::EvaluationProgress(std::FILE* out) : out_(out), live_(::isatty(fileno(out)) != 0) {}

EvaluationProgress::~EvaluationProgress() { clear(); }

void EvaluationProgress::update(int64_t done, int64_t total, double seconds) {
  if (!live_ || seconds < kEvaluationQuietSeconds) return;
  std::fprintf(out_, "\r\033[K%s", evaluation_line(done, total, terminal_columns(out_)).c_str());
  std::fflush(out_);
  shown_ = true;
}

void EvaluationProgress::clear() {
  if (!shown_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  shown_ = false;
}

ConsoleProgress::ConsoleProgress(std::FILE* out) : out_(out), live_(::isatty(fileno(out)) != 0), evaluation_(out) {}

void ConsoleProgress::on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) {
  std::fprintf(out_, "training on %s, run folder %s%s\n", device.c_str(), run_dir.c_str(),
               first_epoch > 1 ? (", resuming at epoch " + std::to_string(first_epoch)).c_str() : "");
  std::fflush(out_);
}

void ConsoleProgress::on_progress(const engine::BatchProgress& p) {
  if (!live_) return;
  std::fprintf(out_, "\r\033[K%s", progress_line(p, terminal_columns(out_)).c_str());
  std::fflush(out_);
}

void ConsoleProgress::on_evaluation_progress(int64_t done, int64_t total, double seconds) {
  evaluation_.update(done, total, seconds);
}

void ConsoleProgress::end_line() {
  evaluation_.clear();
  if (live_) std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
}

void ConsoleProgress::on_epoch_end(const engine::EpochMetrics& m) {
  end_line();
  std::fprintf(out_, "epoch %lld: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%%",
               static_cast<long long>(m.epoch), m.train_loss, 100 * m.train_accuracy, m.test_loss,
               100 * m.test_accuracy);
  if (m.val_accuracy) std::fprintf(out_, " | val acc %.2f%%", 100 * *m.val_accuracy);
  std::fprintf(out_, " | lr %.2g | %.1f s, %.0f img/s\n", m.lr, m.seconds, m.images_per_second);
  std::fflush(out_);
}

void ConsoleProgress::on_finish(const engine::TrainResult& r) {
  if (r.already_complete) {
    std::fprintf(out_, "%s: the run is complete (%zu epoch%s, best test accuracy %.2f%%); nothing to resume\n",
                 r.run_dir.c_str(), r.history.size(), r.history.size() == 1 ? "" : "s", 100 * r.best_test_accuracy);
    std::fflush(out_);
    return;
  }
  if (r.target_reached_epoch) {
    std::fprintf(out_, "target accuracy reached at epoch %lld\n", static_cast<long long>(*r.target_reached_epoch));
  }
  std::fprintf(out_, "done: best test accuracy %.2f%%, %s total, %.0f img/s; run folder %s\n",
               100 * r.best_test_accuracy, duration_text(r.seconds).c_str(), r.images_per_second, r.run_dir.c_str());
  std::fflush(out_);
}

}  // namespace lenet5::app
