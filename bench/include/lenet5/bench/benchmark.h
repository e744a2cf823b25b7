// Inference and training throughput of LeNet-5 in several execution modes, per batch size.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "lenet5/model/lenet5.h"

namespace lenet5::bench {

enum class Mode {
  kEager,        // the torch::nn::Module, eval() + InferenceMode
  kTorchScript,  // the TorchScript module as loaded (or as exported in memory)
  kOptimized,    // the TorchScript module compiled for serving (deploy::InferenceSession)
  kTrain,        // full training steps: forward, backward, AdamW step
};

// The one name table of Mode (`bench --modes`, the report's "mode" field).
const std::vector<std::pair<std::string, Mode>>& mode_names();
Mode parse_mode(const std::string& name);  // a name in the table; else std::invalid_argument
std::string mode_name(Mode mode);

struct BenchOptions {
  std::vector<int64_t> batch_sizes = {1, 8, 64, 256, 1024};
  std::vector<Mode> modes = {Mode::kEager, Mode::kTorchScript, Mode::kOptimized};
  torch::Device device = torch::kCPU;
  int64_t warmup = 10;     // untimed iterations per mode and batch size
  int64_t iterations = 0;  // timed iterations; 0: as many as fit in `seconds`
  double seconds = 1.0;
  int neighbour_load = 0;  // threads that keep the CPU busy while measuring, as another process's work would
};

struct BenchResult {
  std::string mode;
  std::string engine;  // what ran it: "libtorch" (eager), "torchscript", or the session's "native-avx2"/"onednn"/...
  int64_t batch_size = 0;
  int64_t iterations = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0;  // per batch
  double images_per_second = 0;
  double gflops_per_second = 0;
};

struct BenchReport {
  std::string device;
  int threads = 0;
  int neighbour_load = 0;
  std::string torch_version;
  std::string variant;
  double flops_per_image = 0;  // forward pass, 2 per multiply-add
  double fma_peak_gflops = 0;  // one core's rate of independent FMAs, measured (native::measure_fma_peak_gflops)
  std::vector<BenchResult> results;
};

// Forward FLOPs of one image: two per connection (a multiply and an add).
double forward_flops_per_image(model::LeNet5& model);

// `script`: the TorchScript module to time as "torchscript" (e.g. a loaded export); when empty the model is
// scripted in memory. "optimized" compiles a copy of it as deploy::InferenceSession does for serving.
BenchReport run_benchmark(model::LeNet5& model, std::optional<torch::jit::Module> script, const BenchOptions& options);

std::string format_report(const BenchReport& report);
std::string report_json(const BenchReport& report);

}  // namespace lenet5::bench
