#include <cstdio>
#include <memory>
#include <set>
#include <string>

#include "commands.h"
#include "lenet5/engine/progress.h"
#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"
#include "lenet5/engine/trainer.h"
#include "report_observer.h"

namespace lenet5::app {

void setup_train(CLI::App& app) {
  auto options = std::make_shared<engine::TrainOptions>();
  auto* sub = app.add_subcommand("train", "Train LeNet-5 on an MNIST-format dataset");
  add_data_option(*sub, options->data_dir);
  sub->get_option("--data")->required(false);  // a resumed run reads it from its config.json; checked below
  sub->add_option("--dataset", options->dataset, "Dataset (picks class names)")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}))
      ->capture_default_str();
  sub->add_option("--variant", options->variant, "Network variant")
      ->check(CLI::IsMember({"modern", "classic"}))
      ->capture_default_str();
  sub->add_option("--epochs", options->epochs, "Passes over the training set")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--batch-size", options->batch_size, "Images per step")->check(CLI::PositiveNumber)->capture_default_str();
  sub->add_option("--optimizer", options->optimizer, "Optimiser")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  sub->add_option("--lr", options->lr, "Peak learning rate (default: recommended for optimiser and variant)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--momentum", options->momentum, "SGD momentum (Nesterov)")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  sub->add_option("--weight-decay", options->weight_decay, "Weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
  sub->add_option("--schedule", options->schedule, "Learning-rate schedule")
      ->check(CLI::IsMember({"none", "step", "cosine", "onecycle", "paper"}))
      ->capture_default_str();
  sub->add_flag("--augment", options->augment, "Random affine distortions (rotation, scale, shear, translation)");
  sub->add_option("--val-split", options->val_split, "Fraction of the training set held out for validation")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  add_device_option(*sub, options->device);
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Random seed (initialisation, shuffling, distortions)")->capture_default_str();
  sub->add_option("--out", options->out_dir, "Run folder (default: a new folder under runs/)");
  sub->add_flag("--resume", options->resume,
                "Continue the run in --out from its checkpoint.pt, with the settings of its config.json");
  sub->add_option_function<double>(
      "--target-accuracy",
      [options](double percent) {
        if (!(percent > 0 && percent <= 100)) {
          throw CLI::ValidationError("--target-accuracy", "must be a percentage in (0, 100], got " + std::to_string(percent));
        }
        options->target_accuracy = percent / 100;
      },
      "Stop after the first epoch whose test accuracy reaches this percentage (e.g. 99)");
  sub->add_option("--limit-train", options->train_limit, "Use only the first N training images")->check(CLI::NonNegativeNumber);
  sub->add_option("--limit-test", options->test_limit, "Use only the first N test images")->check(CLI::NonNegativeNumber);
  sub->callback([options, sub] {
    engine::TrainOptions run = *options;
    if (options->resume) {
      std::set<std::string> given;
      for (const CLI::Option* option : sub->get_options()) {
        if (option->count() > 0) given.insert(option->get_name());
      }
      run = engine::resume_options(*options, given);
    } else if (run.data_dir.empty()) {
      throw CLI::RequiredError("--data");
    }
    engine::StopOnSignals stop;
    run.stop = &stop.flag();
    engine::ConsoleProgress progress;
    ReportObserver report(run.variant);
    FanOutObserver observers({&progress, &report});
    try {
      engine::train(run, &observers);
    } catch (const engine::TrainingStopped& e) {
      progress.end_line();
      std::fprintf(stderr, "lenet5: %s\n", e.what());
      std::fflush(stderr);
      stop.end_process_by_signal();
    }
  });
}

}  // namespace lenet5::app
