#include <iostream>
#include <memory>

#include "commands.h"
#include "lenet5/bench/benchmark.h"
#include "lenet5/deploy/export.h"
#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/threads.h"

namespace lenet5::app {
namespace {

struct BenchCommandOptions {
  std::string model_file;
  std::string checkpoint;
  model::Variant variant = model::Variant::kModern;
  std::vector<int64_t> batch_sizes = {1, 8, 64, 256, 1024};
  std::vector<bench::Mode> modes = {bench::Mode::kEager, bench::Mode::kTorchScript, bench::Mode::kOptimized};
  std::string device = "auto";
  int threads = engine::kDefaultThreads;
  int neighbour_load = 0;
  int64_t warmup = 10;
  int64_t iterations = 0;
  double seconds = 1.0;
  bool train = false;
  bool json = false;
};

void run_bench(const BenchCommandOptions& options) {
  bench::BenchOptions bench_options;
  bench_options.device = engine::resolve_device(options.device);
  bench_options.batch_sizes = options.batch_sizes;
  bench_options.modes = options.modes;
  if (options.train) bench_options.modes.push_back(bench::Mode::kTrain);
  bench_options.warmup = options.warmup;
  bench_options.iterations = options.iterations;
  bench_options.seconds = options.seconds;
  bench_options.neighbour_load = options.neighbour_load;
  engine::set_cpu_threads(options.threads);

  model::LeNet5 net{nullptr};
  std::optional<torch::jit::Module> script;
  if (!options.model_file.empty()) {
    auto exported = deploy::load_exported(options.model_file, bench_options.device);
    script = exported.module;
    // A TorchScript file holds no nn::Module: eager mode times the same architecture with fresh weights.
    net = model::LeNet5(exported.metadata.variant);
  } else if (!options.checkpoint.empty()) {
    net = load_checkpoint_flag(options.checkpoint, "benchmark it with --model " + options.checkpoint).model;
  } else {
    net = model::LeNet5(options.variant);
  }
  const auto report = bench::run_benchmark(net, script, bench_options);
  std::cout << (options.json ? bench::report_json(report) + "\n" : bench::format_report(report));
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto options = std::make_shared<BenchCommandOptions>();
  auto* sub = app.add_subcommand("bench", "Latency and throughput per execution mode and batch size");
  auto* model = sub->add_option("--model", options->model_file, "Exported TorchScript model")->check(CLI::ExistingFile);
  auto* checkpoint =
      sub->add_option("--checkpoint", options->checkpoint, "Training checkpoint")->check(CLI::ExistingFile);
  add_variant_option(*sub, options->variant, "Fresh weights of this variant");
  auto* variant = sub->get_option("--variant");
  model->excludes(checkpoint)->excludes(variant);
  checkpoint->excludes(variant);
  sub->add_option("--batch-sizes", options->batch_sizes, "Comma-separated batch sizes")
      ->delimiter(',')
      ->check(whole_number(1, kMaxBatchSize))
      ->capture_default_str();
  add_enum_option(*sub, "--modes", options->modes, bench::mode_names(),
                  "Comma-separated: eager, torchscript, optimized, train")
      ->delimiter(',');
  add_device_option(*sub, options->device);
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_option("--neighbour-load", options->neighbour_load,
                  "Threads that spin on the CPU while measuring, as a busy neighbour would")
      ->check(whole_number(0, kMaxThreads));
  sub->add_option("--warmup", options->warmup, "Untimed iterations per measurement")
      ->check(whole_number(0, kMaxIterations))
      ->capture_default_str();
  auto* iters = sub->add_option("--iters", options->iterations, "Timed iterations per measurement")
                    ->check(whole_number(1, kMaxIterations));
  auto* seconds = sub->add_option("--seconds", options->seconds, "Seconds per measurement (when --iters is not given)")
                      ->check(real_number(0, kMaxSeconds, /*above_min=*/true))
                      ->capture_default_str();
  iters->excludes(seconds);
  sub->add_flag("--train", options->train, "Also measure training steps (forward, backward, AdamW)");
  sub->add_flag("--json", options->json, "Print one JSON object");
  sub->callback([options] { run_bench(*options); });
}

}  // namespace lenet5::app
