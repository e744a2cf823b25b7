#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "latest_link.h"
#include "lenet5/data/mnist_dataset.h"
#include "lenet5/distributed/cpu_binding.h"
#include "lenet5/distributed/environment.h"
#include "lenet5/distributed/launcher.h"
#include "lenet5/distributed/process_group.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"
#include "lenet5/engine/trainer.h"
#include "progress.h"
#include "report_observer.h"

namespace lenet5::app {
namespace {

constexpr int64_t kMaxRanks = 1024;  // --nproc: local processes

// Points runs/latest at a run whose folder lenet5 chose (no --out), once training starts.
class LatestRunLink : public engine::TrainObserver {
 public:
  void on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) override {
    point_latest_link(run_dir);
  }
};

// Where the results are, and the next command: printed last, so a user finds them without reading the log.
void print_where_results_are(const std::string& run_dir, bool linked) {
  const std::string shown = linked ? latest_link_path(run_dir) : run_dir;
  std::cout << "run folder:  " << run_dir << (linked ? " (also " + shown + ")" : "") << "\n"
            << "best model:  " << shown << "/best.pt\n"
            << "report:      " << shown << "/report.html\n"
            << "export with: lenet5 export --checkpoint " << shown << "/best.pt --out " << shown << "/lenet5.pt\n";
}

// What data parallelism cost rank 0 (the all-reduces of the gradients, the stop flag and the evaluation): the time
// it waited for them, which is less than their duration where they overlapped backward.
void print_communication(const engine::Collective& group, int64_t batch_size) {
  const auto s = group.statistics();
  if (s.all_reduces == 0) return;
  std::printf("data-parallel: %d ranks x batch %lld; %lld all-reduces, %.0f bytes and %.3f ms waited each on average\n",
              group.world_size(), static_cast<long long>(batch_size), static_cast<long long>(s.all_reduces),
              static_cast<double>(s.bytes) / static_cast<double>(s.all_reduces),
              1000 * s.seconds / static_cast<double>(s.all_reduces));
}

// A rank other than 0 trains silently: rank 0 shows the progress and writes the run folder.
void run_other_rank(engine::TrainOptions run, const CLI::App& sub) {
  if (run.resume) {
    std::set<std::string> given;
    for (const CLI::Option* option : sub.get_options()) {
      if (option->count() > 0) given.insert(option->get_name());
    }
    run = engine::resume_options(run, given);
  } else {
    run.data_dir = resolve_data_dir(run.data_dir, run.dataset);
  }
  engine::StopOnSignals stop;
  run.stop = &stop.flag();
  try {
    engine::train(run);
  } catch (const engine::TrainingStopped&) {
    stop.end_process_by_signal();
  }
}

// The flags of data-parallel training; not part of the recipe.
struct DistributedFlags {
  int nproc = 0;  // 0: no local launch
  distributed::Backend backend = distributed::Backend::kAuto;
  distributed::CpuBinding cpu_bind = distributed::CpuBinding::kCores;
  double timeout_seconds = 120;
};

// `lenet5 train --nproc N`: this command again as N ranks, watched until they end.
void launch_ranks(int nproc) {
  if (distributed::read_launch_environment()) {
    throw std::invalid_argument(
        "--nproc: this process is already a rank of a distributed launch (RANK is set); "
        "start it with torchrun or with --nproc, not both");
  }
  const auto args = distributed::without_flag(distributed::own_arguments(), "--nproc");
  const auto run_rank = [&args] {  // in a forked rank: this command again, now with the rank's variables
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return run(static_cast<int>(argv.size()), argv.data());
  };
  const auto outcome = distributed::launch_local_ranks("/proc/self/exe", args, nproc, 10, run_rank);
  if (outcome.signal != 0) {  // Ctrl-C or SIGTERM: the ranks stopped (rank 0 said how to resume); end the same way
    std::signal(outcome.signal, SIG_DFL);
    std::raise(outcome.signal);
  }
  if (!outcome.failure.empty()) throw std::runtime_error(outcome.failure);
}

// Each rank trains on its own device: cuda:LOCAL_RANK where CUDA is asked for (or "auto" finds it).
std::string rank_device(const std::string& device, int local_rank) {
  const bool cuda = device == "cuda" || (device == "auto" && torch::cuda::is_available());
  return cuda ? "cuda:" + std::to_string(local_rank) : device;
}

// torchrun restarts a failed group with the same arguments: a restarted rank resumes the run in --out.
bool resumes_after_restart(const engine::TrainOptions& options, const distributed::LaunchEnvironment& env) {
  return env.restart_count > 0 && !options.resume && !options.out_dir.empty() &&
         std::filesystem::exists(std::filesystem::path(options.out_dir) / "checkpoint.pt");
}

std::unique_ptr<engine::Collective> join_group(const distributed::LaunchEnvironment& env, const std::string& device,
                                               const DistributedFlags& flags, bool own_cores) {
  distributed::GroupOptions group;
  group.busy_poll = own_cores;
  const bool on_cuda = device.rfind("cuda", 0) == 0;
  group.backend = distributed::resolve_backend(flags.backend, on_cuda);
  distributed::require_backend(group.backend, on_cuda);
  group.timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000));
  return distributed::join_process_group(env, group);
}

void run_train(engine::TrainOptions options, const DistributedFlags& flags, const CLI::App& sub) {
  if (flags.nproc > 0) {  // what every rank would check, checked once here: one error, not one per rank
    if (!options.resume) resolve_data_dir(options.data_dir, options.dataset);
    const auto device = engine::resolve_device(options.device);
    if (device.is_cuda() && flags.nproc > static_cast<int>(torch::cuda::device_count())) {
      throw std::runtime_error("--nproc " + std::to_string(flags.nproc) + ": each rank trains on a GPU of its own (" +
                               "cuda:LOCAL_RANK), and this machine has " + std::to_string(torch::cuda::device_count()));
    }
    distributed::require_backend(distributed::resolve_backend(flags.backend, device.is_cuda()), device.is_cuda());
    return launch_ranks(flags.nproc);
  }
  const auto env = distributed::read_launch_environment();
  std::unique_ptr<engine::Collective> group;
  if (env) {
    options.device = rank_device(options.device, env->local_rank);
    const bool own_cores =
        flags.cpu_bind == distributed::CpuBinding::kCores && !distributed::bind_to_cpu_share(*env).empty();
    group = join_group(*env, options.device, flags, own_cores);
    if (resumes_after_restart(options, *env)) options.resume = true;
  }
  engine::TrainOptions run = options;
  run.collective = group.get();
  if (group != nullptr && group->rank() != 0) return run_other_rank(run, sub);
  if (options.resume) {  // the run's config.json holds the settings; --data included
    std::set<std::string> given;
    for (const CLI::Option* option : sub.get_options()) {
      if (option->count() > 0) given.insert(option->get_name());
    }
    run = engine::resume_options(run, given);
  } else {
    run.data_dir = resolve_data_dir(options.data_dir, options.dataset);
  }
  const bool link = options.out_dir.empty();
  engine::StopOnSignals stop;
  run.stop = &stop.flag();
  ConsoleProgress progress;
  ReportObserver report(model::variant_name(run.variant));
  LatestRunLink latest;
  std::vector<engine::TrainObserver*> observers = {&progress, &report};
  if (link) observers.push_back(&latest);
  FanOutObserver fan_out(observers);
  try {
    const auto result = engine::train(run, &fan_out);
    if (group != nullptr) print_communication(*group, run.batch_size);
    print_where_results_are(result.run_dir, link && is_latest_link_to(result.run_dir));
  } catch (const engine::TrainingStopped& e) {
    progress.end_line();
    std::fprintf(stderr, "lenet5: %s\n", e.what());
    std::fflush(stderr);
    stop.end_process_by_signal();
  }
}

// The data and the recipe: what decides the weights (a resume takes these from config.json).
void add_recipe_flags(CLI::App& sub, engine::TrainOptions& options) {
  add_data_option(sub, options.data_dir);
  add_enum_option(sub, "--dataset", options.dataset, data::dataset_kind_names(), "Dataset (picks class names)");
  add_variant_option(sub, options.variant);
  sub.add_option("--epochs", options.epochs, "Passes over the training set")
      ->check(whole_number(1, kMaxEpochs))
      ->capture_default_str();
  sub.add_option("--batch-size", options.batch_size, "Images per step")
      ->check(whole_number(1, kMaxTrainBatchSize))
      ->capture_default_str();
  add_enum_option(sub, "--optimizer", options.optimizer, engine::optimizer_names(), "Optimiser");
  sub.add_option("--lr", options.lr, "Peak learning rate (default: recommended for optimiser and variant)")
      ->check(real_number(0, 10, /*above_min=*/true));
  sub.add_option("--momentum", options.momentum, "SGD momentum (Nesterov)")
      ->check(real_number(0.0, 0.999))
      ->capture_default_str();
  sub.add_option("--weight-decay", options.weight_decay, "Weight decay")
      ->check(real_number(0, 1))
      ->capture_default_str();
  add_enum_option(sub, "--schedule", options.schedule, engine::schedule_names(), "Learning-rate schedule");
  sub.add_flag("--augment", options.augment, "Random affine distortions (rotation, scale, shear, translation)");
  sub.add_option("--val-split", options.val_split, "Fraction of the training set held out for validation")
      ->check(real_number(0.0, 0.5))
      ->capture_default_str();
}

}  // namespace

void add_distributed_flags(CLI::App& sub, DistributedFlags& flags) {
  sub.add_option("--nproc", flags.nproc,
                 "Data-parallel training: start N local ranks (as torchrun --standalone --nproc_per_node N would)")
      ->check(whole_number(1, kMaxRanks));
  add_enum_option(sub, "--dist-backend", flags.backend, distributed::backend_names(),
                  "Distributed backend (auto: NCCL on CUDA, Gloo on CPU)");
  add_enum_option(sub, "--cpu-bind", flags.cpu_bind, distributed::cpu_binding_names(),
                  "Bind each rank to its own share of this machine's cores (cores), or not (none)");
  sub.add_option("--dist-timeout", flags.timeout_seconds,
                 "Seconds a rank waits for the others (joining, each collective) before it gives up")
      ->check(real_number(0, kMaxSeconds, /*above_min=*/true))
      ->capture_default_str();
}

void setup_train(CLI::App& app) {
  auto options = std::make_shared<engine::TrainOptions>();
  auto flags = std::make_shared<DistributedFlags>();
  auto* sub = app.add_subcommand("train", "Train LeNet-5 on an MNIST-format dataset");
  add_recipe_flags(*sub, *options);
  add_device_option(*sub, options->device);
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Random seed (initialisation, shuffling, distortions)")
      ->check(whole_number(0, kMaxSeed))
      ->capture_default_str();
  sub->add_option("--out", options->out_dir, "Run folder (default: a new folder under runs/, linked as runs/latest)");
  sub->add_flag("--resume", options->resume,
                "Continue the run in --out from its checkpoint.pt, with the settings of its config.json");
  sub->add_option_function<double>(
         "--target-accuracy", [options](double percent) { options->target_accuracy = percent / 100; },
         "Stop after the first epoch whose test accuracy reaches this percentage (e.g. 99)")
      ->check(real_number(0, 100, /*above_min=*/true));
  sub->add_option("--limit-train", options->train_limit, "Use only the first N training images")
      ->check(whole_number(0, kMaxImages));
  sub->add_option("--limit-test", options->test_limit, "Use only the first N test images")
      ->check(whole_number(0, kMaxImages));
  add_distributed_flags(*sub, *flags);
  sub->callback([options, flags, sub] { run_train(*options, *flags, *sub); });
}

}  // namespace lenet5::app
