#include "lenet5/bench/benchmark.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/session.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/model/summary.h"
#include "lenet5/native/plan.h"

namespace lenet5::bench {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> sorted_values, double fraction) {
  std::sort(sorted_values.begin(), sorted_values.end());
  const auto index = static_cast<size_t>(fraction * static_cast<double>(sorted_values.size() - 1) + 0.5);
  return sorted_values[std::min(index, sorted_values.size() - 1)];
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Times `step` (one batch) after warm-up; the device is synchronised after every step so each latency is
// the batch's full time.
BenchResult time_steps(const std::function<void()>& step, const BenchOptions& options) {
  for (int64_t i = 0; i < options.warmup; ++i) step();
  synchronize(options.device);
  std::vector<double> latencies_us;
  const auto start = Clock::now();
  for (int64_t i = 0;; ++i) {
    if (options.iterations > 0
            ? i >= options.iterations
            : (i >= 5 && std::chrono::duration<double>(Clock::now() - start).count() >= options.seconds)) {
      break;
    }
    const auto before = Clock::now();
    step();
    synchronize(options.device);
    latencies_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  BenchResult result;
  result.iterations = static_cast<int64_t>(latencies_us.size());
  result.p50_us = percentile(latencies_us, 0.50);
  result.p90_us = percentile(latencies_us, 0.90);
  result.p99_us = percentile(latencies_us, 0.99);
  double total_us = 0;
  for (double us : latencies_us) total_us += us;
  result.images_per_second = total_us > 0 ? 1e6 * static_cast<double>(result.iterations) / total_us : 0;
  return result;
}

// Threads that spin on the CPU until destroyed: the load of a busy neighbour on a shared machine.
class BusyNeighbours {
 public:
  explicit BusyNeighbours(int count) {
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this] {
        volatile uint64_t sink = 0;
        while (!stop_.load(std::memory_order_relaxed)) sink = sink + 1;
      });
    }
  }
  ~BusyNeighbours() {
    stop_.store(true);
    for (auto& thread : threads_) thread.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

const std::vector<std::pair<std::string, Mode>>& mode_names() {
  static const std::vector<std::pair<std::string, Mode>> table = {{"eager", Mode::kEager},
                                                                  {"torchscript", Mode::kTorchScript},
                                                                  {"optimized", Mode::kOptimized},
                                                                  {"train", Mode::kTrain}};
  return table;
}

Mode parse_mode(const std::string& name) {
  for (const auto& [known, mode] : mode_names()) {
    if (known == name) return mode;
  }
  throw std::invalid_argument("--modes: unknown mode '" + name + "': expected eager, torchscript, optimized or train");
}

std::string mode_name(Mode mode) {
  for (const auto& [name, known] : mode_names()) {
    if (known == mode) return name;
  }
  return "?";
}

double forward_flops_per_image(model::LeNet5& model) {
  return 2.0 * static_cast<double>(model::summarize(model).connections);
}

namespace {

// Forward in one of the inference modes on `images`; the objects it names outlive the returned step.
std::function<void()> inference_step(Mode mode, model::LeNet5& model, torch::jit::Module& scripted,
                                     std::optional<deploy::InferenceSession>& optimized, const torch::Tensor& images) {
  switch (mode) {
    case Mode::kEager:
      return [&model, images] {
        c10::InferenceMode inference;
        model->forward(images);
      };
    case Mode::kTorchScript:
      return [&scripted, images] {
        c10::InferenceMode inference;
        scripted.forward({images});
      };
    case Mode::kOptimized: return [&optimized, images] { optimized->forward(images); };
    case Mode::kTrain: break;
  }
  throw std::logic_error("inference_step: " + mode_name(mode) + " is not an inference mode");
}

// One AdamW training step on random targets, on a copy so that timing never changes the weights being
// benchmarked.
std::function<void()> training_step(model::LeNet5& model, const torch::Tensor& images, const torch::Device& device) {
  auto targets = torch::randint(0, model::kNumClasses, {images.size(0)},
                                torch::TensorOptions().dtype(torch::kInt64).device(device));
  model::LeNet5 copy = model.clone();
  engine::move_model_to(copy, device);
  copy->train();
  auto optimizer = std::make_shared<engine::FlatAdamW>(copy->named_parameters(), torch::optim::AdamWOptions(1e-3));
  return [copy, optimizer, images, targets]() mutable {
    engine::clear_gradients(*optimizer);
    copy->loss(copy->forward(images), targets).backward();
    optimizer->step();
  };
}

// The TorchScript module the script modes run (the given one, else the model's), on the device; an empty one
// when no mode needs it.
torch::jit::Module scripted_for(model::LeNet5& model, std::optional<torch::jit::Module> script,
                                const BenchOptions& options) {
  const bool needs_script = std::any_of(options.modes.begin(), options.modes.end(),
                                        [](Mode m) { return m == Mode::kTorchScript || m == Mode::kOptimized; });
  if (!needs_script) return torch::jit::Module();
  torch::jit::Module scripted = script ? *script : deploy::to_torchscript(model);
  scripted.to(options.device);
  scripted.eval();
  return scripted;
}

BenchReport report_header(model::LeNet5& model, const BenchOptions& options) {
  BenchReport report;
  report.device = options.device.str();
  report.threads = torch::get_num_threads();
  report.neighbour_load = options.neighbour_load;
  report.torch_version = engine::torch_version();
  report.variant = model::variant_name(model->variant());
  report.flops_per_image = forward_flops_per_image(model);
  report.fma_peak_gflops = native::measure_fma_peak_gflops(0.1);
  return report;
}

}  // namespace

BenchReport run_benchmark(model::LeNet5& model, std::optional<torch::jit::Module> script, const BenchOptions& options) {
  BenchReport report = report_header(model, options);
  engine::move_model_to(model, options.device);
  model->eval();
  torch::jit::Module scripted = scripted_for(model, std::move(script), options);

  BusyNeighbours neighbours(options.neighbour_load);
  for (Mode mode : options.modes) {
    std::optional<deploy::InferenceSession> optimized;
    if (mode == Mode::kOptimized) {
      optimized.emplace(scripted, options.device);
      for (const auto& note : optimized->notes()) std::cerr << "lenet5: note: optimized mode: " << note << "\n";
    }
    for (int64_t batch_size : options.batch_sizes) {
      auto images = torch::rand({batch_size, 1, model::kImageSide, model::kImageSide},
                                torch::TensorOptions().device(options.device));
      BenchResult result = time_steps(mode == Mode::kTrain ? training_step(model, images, options.device)
                                                           : inference_step(mode, model, scripted, optimized, images),
                                      options);
      result.mode = mode_name(mode);
      result.engine = mode == Mode::kOptimized     ? optimized->engine_for(batch_size)
                      : mode == Mode::kTorchScript ? "torchscript"
                                                   : "libtorch";
      result.batch_size = batch_size;
      result.images_per_second *= static_cast<double>(batch_size);
      const double flops = mode == Mode::kTrain ? 3 * report.flops_per_image : report.flops_per_image;
      result.gflops_per_second = result.images_per_second * flops / 1e9;
      report.results.push_back(result);
    }
  }
  return report;
}

std::string format_report(const BenchReport& report) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "LeNet-5 (%s) on %s, %d thread%s, LibTorch %s; %.0f forward FLOPs per image\n",
                report.variant.c_str(), report.device.c_str(), report.threads, report.threads == 1 ? "" : "s",
                report.torch_version.c_str(), report.flops_per_image);
  out << line;
  std::snprintf(line, sizeof line,
                "FMA peak of one core (measured): %.1f GFLOP/s; %% peak = GFLOP/s / (peak x threads)\n",
                report.fma_peak_gflops);
  out << line;
  if (report.neighbour_load > 0) {
    out << "measured next to " << report.neighbour_load << " busy thread" << (report.neighbour_load == 1 ? "" : "s")
        << " spinning on the CPU (--neighbour-load)\n";
  }
  std::snprintf(line, sizeof line, "%-12s %-12s %6s %11s %11s %11s %13s %9s %7s\n", "mode", "engine", "batch", "p50 us",
                "p90 us", "p99 us", "images/s*", "GFLOP/s*", "% peak");
  out << line << std::string(99, '-') << "\n";
  const double peak = report.fma_peak_gflops * std::max(1, report.threads);
  for (const auto& r : report.results) {
    std::snprintf(line, sizeof line, "%-12s %-12s %6lld %11.1f %11.1f %11.1f %13.0f %9.2f %7.1f\n", r.mode.c_str(),
                  r.engine.c_str(), static_cast<long long>(r.batch_size), r.p50_us, r.p90_us, r.p99_us,
                  r.images_per_second, r.gflops_per_second, peak > 0 ? 100 * r.gflops_per_second / peak : 0.0);
    out << line;
  }
  out << "* from the mean latency: batch x iterations / total time of the iterations\n";
  const bool trained = std::any_of(report.results.begin(), report.results.end(),
                                   [](const BenchResult& r) { return r.mode == mode_name(Mode::kTrain); });
  if (trained) out << "(train: forward + backward + AdamW step, counted as 3x the forward FLOPs)\n";
  return out.str();
}

std::string report_json(const BenchReport& report) {
  nlohmann::json json{{"device", report.device},
                      {"threads", report.threads},
                      {"neighbour_load", report.neighbour_load},
                      {"torch_version", report.torch_version},
                      {"variant", report.variant},
                      {"flops_per_image", report.flops_per_image},
                      {"fma_peak_gflops", report.fma_peak_gflops},
                      {"results", nlohmann::json::array()}};
  for (const auto& r : report.results) {
    json["results"].push_back({{"mode", r.mode},
                               {"engine", r.engine},
                               {"batch_size", r.batch_size},
                               {"iterations", r.iterations},
                               {"p50_us", r.p50_us},
                               {"p90_us", r.p90_us},
                               {"p99_us", r.p99_us},
                               {"images_per_second", r.images_per_second},
                               {"gflops_per_second", r.gflops_per_second}});
  }
  return json.dump();
}

}  // namespace lenet5::bench
