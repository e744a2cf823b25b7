#include "lenet5/engine/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace lenet5::engine {
namespace {
constexpr double kPi = 3.14159265358979323846;

double cosine_between(double from, double to, double fraction) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(kPi * std::clamp(fraction, 0.0, 1.0)));
}
}  // namespace

const std::vector<std::pair<std::string, Schedule>>& schedule_names() {
  static const std::vector<std::pair<std::string, Schedule>> table = {{"none", Schedule::kNone},
                                                                      {"step", Schedule::kStep},
                                                                      {"cosine", Schedule::kCosine},
                                                                      {"onecycle", Schedule::kOneCycle},
                                                                      {"paper", Schedule::kPaper}};
  return table;
}

Schedule parse_schedule(const std::string& name) {
  for (const auto& [known, schedule] : schedule_names()) {
    if (known == name) return schedule;
  }
  throw std::invalid_argument("--schedule: unknown schedule '" + name +
                              "': expected none, step, cosine, onecycle or paper");
}

std::string schedule_name(Schedule schedule) {
  for (const auto& [name, known] : schedule_names()) {
    if (known == schedule) return name;
  }
  return "?";
}

double learning_rate_at(Schedule schedule, double base_lr, int64_t step, int64_t steps_per_epoch, int64_t total_steps) {
  const double progress = total_steps > 1 ? static_cast<double>(step) / static_cast<double>(total_steps - 1) : 0.0;
  switch (schedule) {
    case Schedule::kNone: return base_lr;
    case Schedule::kStep: return base_lr * (progress >= 0.75 ? 0.01 : progress >= 0.5 ? 0.1 : 1.0);
    case Schedule::kCosine: return cosine_between(base_lr, 0.0, progress);
    case Schedule::kOneCycle: {
      constexpr double kWarmupFraction = 0.3, kDivFactor = 25.0, kFinalDivFactor = 1e4;
      const double start = base_lr / kDivFactor;
      if (progress < kWarmupFraction) return cosine_between(start, base_lr, progress / kWarmupFraction);
      return cosine_between(base_lr, start / kFinalDivFactor, (progress - kWarmupFraction) / (1.0 - kWarmupFraction));
    }
    case Schedule::kPaper: {
      const int64_t epoch = step / std::max<int64_t>(1, steps_per_epoch);  // 0-based
      const double factor = epoch < 2 ? 1.0 : epoch < 5 ? 0.4 : epoch < 8 ? 0.2 : epoch < 12 ? 0.1 : 0.02;
      return base_lr * factor;
    }
  }
  return base_lr;
}

}  // namespace lenet5::engine
