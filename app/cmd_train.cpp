#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "commands.h"
#include "latest_link.h"
#include "lenet5/data/mnist_dataset.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"
#include "lenet5/engine/trainer.h"
#include "progress.h"
#include "report_observer.h"

namespace lenet5::app {
namespace {

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

void run_train(const engine::TrainOptions& options, const CLI::App& sub) {
  engine::TrainOptions run = options;
  if (options.resume) {  // the run's config.json holds the settings; --data included
    std::set<std::string> given;
    for (const CLI::Option* option : sub.get_options()) {
      if (option->count() > 0) given.insert(option->get_name());
    }
    run = engine::resume_options(options, given);
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

void setup_train(CLI::App& app) {
  auto options = std::make_shared<engine::TrainOptions>();
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
  sub->callback([options, sub] { run_train(*options, *sub); });
}

}  // namespace lenet5::app
