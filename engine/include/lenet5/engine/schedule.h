#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lenet5::engine {

enum class Schedule { kNone, kStep, kCosine, kOneCycle, kPaper };

// The one name table of Schedule (command line, config.json).
const std::vector<std::pair<std::string, Schedule>>& schedule_names();
Schedule parse_schedule(const std::string& name);  // a name in the table; else std::invalid_argument
std::string schedule_name(Schedule schedule);

// Learning rate at `step` (0-based) of a run of `total_steps`, `steps_per_epoch` steps an epoch.
//   step:     x0.1 at 50% and again at 75% of the run;
//   cosine:   cosine decay from base_lr to 0;
//   onecycle: PyTorch's OneCycleLR defaults (30% cosine warm-up from base/25, then down to base/25e4);
//   paper:    the shape of the paper's schedule, per epoch: x1 (1-2), x0.4 (3-5), x0.2 (6-8), x0.1 (9-12),
//             x0.02 after.
double learning_rate_at(Schedule schedule, double base_lr, int64_t step, int64_t steps_per_epoch, int64_t total_steps);

}  // namespace lenet5::engine
