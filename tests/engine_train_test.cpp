#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "lenet5/engine/checkpoint.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/flat_adamw.h"
#include "lenet5/engine/schedule.h"
#include "lenet5/engine/trainer.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::engine::OptimizerKind;
using lenet5::engine::Schedule;
using lenet5::engine::TrainOptions;
using lenet5::model::Variant;
using ::testing::HasSubstr;
using ::testing::Not;

// A quick run on real MNIST subsets: 3,200 training images (50 steps of 64), 1,000 test images.
TrainOptions quick_options(const std::string& out_dir) {
  TrainOptions options;
  options.data_dir = lenet5::testing::mnist_dir();
  options.out_dir = out_dir;
  options.device = "cpu";
  options.threads = 1;
  options.epochs = 2;
  options.train_limit = 3200;
  options.test_limit = 1000;
  options.seed = 11;
  return options;
}

std::vector<nlohmann::json> read_metrics(const std::string& run_dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::vector<torch::Tensor> weights_of(const std::string& checkpoint) {
  auto loaded = lenet5::engine::load_checkpoint(checkpoint);
  std::vector<torch::Tensor> weights;
  for (const auto& p : loaded.model->parameters()) weights.push_back(p.detach().clone());
  return weights;
}

class EngineTrain : public ::testing::Test {
 protected:
  void SetUp() override { LENET5_REQUIRE_MNIST(); }
  lenet5::testing::TempDir dir_;
};

TEST_F(EngineTrain, BothVariantsLearnFarAboveChance) {
  for (const Variant kind : {Variant::kModern, Variant::kClassic}) {
    const std::string variant = lenet5::model::variant_name(kind);
    auto options = quick_options(dir_.file(variant));
    options.variant = kind;
    options.epochs = 3;  // 150 steps
    // The RBF network starts slowly: a short run needs a constant, higher rate than the 20-epoch recipe.
    if (kind == Variant::kClassic) {
      options.lr = 3e-3;
      options.schedule = Schedule::kNone;
    }
    const auto result = lenet5::engine::train(options);
    ASSERT_EQ(result.history.size(), 3u);
    EXPECT_GT(result.history.back().test_accuracy, variant == "modern" ? 0.9 : 0.8) << variant;
    EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss) << variant;
  }
}

TEST_F(EngineTrain, WritesConfigMetricsAndCheckpoints) {
  auto options = quick_options(dir_.file("run"));
  options.val_split = 0.1;
  lenet5::engine::train(options);
  const auto metrics = read_metrics(options.out_dir);
  ASSERT_EQ(metrics.size(), 2u);
  for (size_t i = 0; i < metrics.size(); ++i) {
    const auto& m = metrics[i];
    EXPECT_EQ(m.at("epoch").get<int>(), static_cast<int>(i) + 1);
    for (const char* key : {"train_accuracy", "test_accuracy", "val_accuracy"}) {
      EXPECT_GE(m.at(key).get<double>(), 0.0) << key;
      EXPECT_LE(m.at(key).get<double>(), 1.0) << key;
    }
    for (const char* key : {"train_loss", "test_loss", "lr", "seconds", "images_per_second"}) {
      EXPECT_GT(m.at(key).get<double>(), 0.0) << key;
    }
  }
  std::ifstream config_file(options.out_dir + "/config.json");
  const auto config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config.at("variant"), "modern");
  EXPECT_EQ(config.at("batch_size"), 64);
  EXPECT_EQ(config.at("device"), "cpu");
  EXPECT_TRUE(config.at("versions").contains("torch"));
  EXPECT_TRUE(fs::exists(options.out_dir + "/best.pt"));
  const auto loaded = lenet5::engine::load_checkpoint(options.out_dir + "/checkpoint.pt");
  EXPECT_EQ(loaded.info.epoch, 2);
  EXPECT_DOUBLE_EQ(loaded.info.test_accuracy, metrics.back().at("test_accuracy").get<double>());
  for (const auto& entry : fs::directory_iterator(options.out_dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "leftover " << entry.path();
  }
}

TEST_F(EngineTrain, TargetAccuracyStopsAfterTheFirstEpochThatReachesIt) {
  auto options = quick_options(dir_.file("target"));
  options.epochs = 3;
  options.target_accuracy = 0.05;  // any trained network beats chance (10%) on the first epoch
  const auto result = lenet5::engine::train(options);
  ASSERT_TRUE(result.target_reached_epoch.has_value());
  EXPECT_EQ(*result.target_reached_epoch, 1);
  EXPECT_EQ(read_metrics(options.out_dir).size(), 1u);

  auto unreachable = quick_options(dir_.file("unreachable"));
  unreachable.epochs = 2;
  unreachable.target_accuracy = 1.0;  // 100% on MNIST's test set: not within two quick epochs
  const auto full = lenet5::engine::train(unreachable);
  EXPECT_FALSE(full.target_reached_epoch.has_value());
  EXPECT_EQ(read_metrics(unreachable.out_dir).size(), 2u);
}

TEST_F(EngineTrain, ResumedRunEndsWithTheSameWeightsAsAnUninterruptedOne) {
  // adamw is the default optimiser (FlatAdamW); adam is torch::optim::Adam's saved state.
  for (const std::string optimizer : {"adamw", "adam"}) {
    for (bool augment : {false, true}) {
      SCOPED_TRACE(optimizer + (augment ? " augmented" : ""));
      const std::string name = optimizer + std::to_string(augment);
      auto straight = quick_options(dir_.file("straight" + name));
      straight.augment = augment;
      straight.optimizer = lenet5::engine::parse_optimizer(optimizer);
      straight.epochs = 3;
      lenet5::engine::train(straight);

      auto interrupted = straight;
      interrupted.out_dir = dir_.file("resumed" + name);
      interrupted.stop_after_epochs = 1;
      lenet5::engine::train(interrupted);
      EXPECT_EQ(read_metrics(interrupted.out_dir).size(), 1u);
      auto resumed = interrupted;
      resumed.stop_after_epochs = 0;
      resumed.resume = true;
      lenet5::engine::train(resumed);

      const auto a = weights_of(straight.out_dir + "/checkpoint.pt");
      const auto b = weights_of(resumed.out_dir + "/checkpoint.pt");
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
      const auto metrics = read_metrics(resumed.out_dir);
      ASSERT_EQ(metrics.size(), 3u);
      for (int i = 0; i < 3; ++i) EXPECT_EQ(metrics[static_cast<size_t>(i)].at("epoch").get<int>(), i + 1);
      EXPECT_EQ(metrics.back().at("test_accuracy"), read_metrics(straight.out_dir).back().at("test_accuracy"));
    }
  }
}

TEST_F(EngineTrain, CheckpointRoundTripKeepsTheModelsOutputs) {
  torch::manual_seed(3);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kClassic);
  const std::string path = dir_.file("classic.pt");
  lenet5::engine::CheckpointInfo info;
  info.variant = lenet5::model::Variant::kClassic;
  info.dataset = lenet5::data::DatasetKind::kFashionMnist;
  info.epoch = 7;
  lenet5::engine::save_checkpoint(path, net, nullptr, info);
  auto loaded = lenet5::engine::load_checkpoint(path);
  EXPECT_EQ(loaded.info.variant, lenet5::model::Variant::kClassic);
  EXPECT_EQ(loaded.info.dataset, lenet5::data::DatasetKind::kFashionMnist);
  EXPECT_EQ(loaded.info.epoch, 7);
  auto x = torch::rand({5, 1, 28, 28});
  EXPECT_TRUE(torch::equal(net->forward(x), loaded.model->forward(x)));
}

TEST_F(EngineTrain, CorruptOrForeignCheckpointIsAClearError) {
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  const std::string good = dir_.file("good.pt");
  lenet5::engine::save_checkpoint(good, net, nullptr, {});
  auto bytes = lenet5::testing::read_file(good);
  bytes.resize(bytes.size() / 2);
  lenet5::testing::write_file(dir_.file("truncated.pt"), bytes);
  lenet5::testing::write_file(dir_.file("text.pt"), {'h', 'e', 'l', 'l', 'o'});
  torch::serialize::OutputArchive foreign;
  foreign.write("weights", torch::ones({3}));
  foreign.save_to(dir_.file("foreign.pt"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated.pt", "not a readable checkpoint"},
      {"text.pt", "not a readable checkpoint"},
      {"foreign.pt", "not a lenet5 checkpoint"},
      {"absent.pt", "checkpoint not found"},
      {"fifo.pt", "is a FIFO (named pipe), expected a checkpoint file"}};  // used to block forever
  ASSERT_EQ(::mkfifo(dir_.file("fifo.pt").c_str(), 0600), 0);
  ::alarm(60);
  for (const auto& [name, message] : cases) {
    try {
      lenet5::engine::load_checkpoint(dir_.file(name));
      ADD_FAILURE() << name << " loaded";
    } catch (const lenet5::engine::CheckpointError& e) {
      EXPECT_THAT(e.what(), HasSubstr(dir_.file(name) + ": " + message));
    }
  }
  ::alarm(0);
}

TEST_F(EngineTrain, DivergingLossStopsAndKeepsTheLastGoodCheckpoint) {
  auto options = quick_options(dir_.file("nan"));
  options.optimizer = OptimizerKind::kSgd;
  options.lr = 1e12;
  try {
    lenet5::engine::train(options);
    FAIL() << "expected TrainingDiverged";
  } catch (const lenet5::engine::TrainingDiverged& e) {
    EXPECT_THAT(e.what(), HasSubstr("training diverged: the loss became"));
    EXPECT_THAT(e.what(), HasSubstr("at epoch 1"));
    EXPECT_THAT(e.what(), HasSubstr("the last good checkpoint is " + options.out_dir + "/checkpoint.pt"));
  }
  // The initial weights (epoch 0), saved before the first step.
  EXPECT_EQ(lenet5::engine::load_checkpoint(options.out_dir + "/checkpoint.pt").info.epoch, 0);
  EXPECT_EQ(read_metrics(options.out_dir).size(), 0u);
}

TEST_F(EngineTrain, RefusesToOverwriteARunWithoutResume) {
  auto options = quick_options(dir_.file("once"));
  options.epochs = 1;
  options.train_limit = 640;
  lenet5::engine::train(options);
  EXPECT_THROW(
      {
        try {
          lenet5::engine::train(options);
        } catch (const std::invalid_argument& e) {
          EXPECT_THAT(e.what(), HasSubstr("already holds a run; pass --resume"));
          throw;
        }
      },
      std::invalid_argument);
}

nlohmann::json read_config(const std::string& run_dir) {
  std::ifstream in(run_dir + "/config.json");
  return nlohmann::json::parse(in);
}

// A run stopped after its first epoch, with settings that differ from every default.
TrainOptions stopped_run(const std::string& out_dir) {
  auto options = quick_options(out_dir);
  options.batch_size = 32;
  options.lr = 2e-3;
  options.schedule = Schedule::kCosine;
  options.train_limit = 1600;
  options.stop_after_epochs = 1;
  lenet5::engine::train(options);
  return options;
}

TEST_F(EngineTrain, ResumeTakesTheRunsSettingsFromItsConfig) {
  const auto original = stopped_run(dir_.file("run"));
  TrainOptions requested;  // the CLI's defaults, as `lenet5 train --resume --out RUN` gives them
  requested.out_dir = original.out_dir;
  requested.resume = true;
  const auto resumed = lenet5::engine::resume_options(requested, {"--out", "--resume"});
  EXPECT_EQ(resumed.batch_size, 32);
  EXPECT_DOUBLE_EQ(resumed.lr, 2e-3);
  EXPECT_EQ(resumed.schedule, Schedule::kCosine);
  EXPECT_EQ(resumed.train_limit, 1600);
  EXPECT_EQ(resumed.test_limit, 1000);
  EXPECT_EQ(resumed.seed, 11u);
  EXPECT_EQ(resumed.epochs, 2);
  EXPECT_EQ(resumed.data_dir, original.data_dir);
  const auto result = lenet5::engine::train(resumed);
  EXPECT_EQ(result.history.size(), 2u);

  // config.json keeps the run's settings and records the resume.
  const auto config = read_config(original.out_dir);
  EXPECT_EQ(config.at("batch_size"), 32);
  EXPECT_EQ(config.at("epochs"), 2);
  ASSERT_EQ(config.at("resumes").size(), 1u);
  EXPECT_EQ(config.at("resumes")[0].at("at_epoch"), 2);
  EXPECT_EQ(read_metrics(original.out_dir).size(), 2u);
}

// config.json holds the names of the enum settings; a name no table knows is the file's fault, said once.
TEST_F(EngineTrain, ResumeRefusesAnUnknownNameInConfigNamingTheFile) {
  const auto original = stopped_run(dir_.file("run"));
  const std::string path = original.out_dir + "/config.json";
  for (const std::string key : {"dataset", "variant", "optimizer", "schedule"}) {
    SCOPED_TRACE(key);
    auto config = read_config(original.out_dir);
    const auto saved = config;
    config[key] = "lbfgs";
    std::ofstream(path) << config.dump(2);
    TrainOptions requested;
    requested.out_dir = original.out_dir;
    requested.resume = true;
    try {
      lenet5::engine::resume_options(requested, {"--out", "--resume"});
      ADD_FAILURE() << "accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_THAT(e.what(), HasSubstr(path + ": unreadable run settings: "));
      EXPECT_THAT(e.what(), HasSubstr("'lbfgs'"));
    }
    std::ofstream(path) << saved.dump(2);
  }
}

TEST_F(EngineTrain, ResumeRefusesAFlagThatChangesTheRunNamingIt) {
  const auto original = stopped_run(dir_.file("run"));
  const std::vector<std::pair<std::string, std::function<void(TrainOptions&)>>> changes = {
      {"--lr", [](TrainOptions& o) { o.lr = 0.01; }},
      {"--batch-size", [](TrainOptions& o) { o.batch_size = 64; }},
      {"--optimizer", [](TrainOptions& o) { o.optimizer = OptimizerKind::kSgd; }},
      {"--schedule", [](TrainOptions& o) { o.schedule = Schedule::kOneCycle; }},
      {"--limit-train", [](TrainOptions& o) { o.train_limit = 3200; }},
      {"--limit-test", [](TrainOptions& o) { o.test_limit = 0; }},
      {"--seed", [](TrainOptions& o) { o.seed = 2; }},
      {"--augment", [](TrainOptions& o) { o.augment = true; }},
      {"--variant", [](TrainOptions& o) { o.variant = Variant::kClassic; }},
      {"--weight-decay", [](TrainOptions& o) { o.weight_decay = 0.1; }},
      {"--val-split", [](TrainOptions& o) { o.val_split = 0.1; }},
      {"--dataset", [](TrainOptions& o) { o.dataset = lenet5::data::DatasetKind::kFashionMnist; }},
      {"--target-accuracy", [](TrainOptions& o) { o.target_accuracy = 0.5; }},
      {"--epochs", [](TrainOptions& o) { o.epochs = 1; }},  // only raising is allowed
  };
  const auto before = lenet5::testing::read_file(original.out_dir + "/config.json");
  for (const auto& [flag, change] : changes) {
    auto requested = original;
    requested.stop_after_epochs = 0;
    requested.resume = true;
    change(requested);
    // Through the CLI's path (the flag given on the command line) and through the library's.
    EXPECT_THROW(
        {
          try {
            lenet5::engine::resume_options(requested, {flag});
          } catch (const std::invalid_argument& e) {
            EXPECT_THAT(e.what(), ::testing::StartsWith(flag + ": the run in " + original.out_dir)) << flag;
            throw;
          }
        },
        std::invalid_argument)
        << flag;
    EXPECT_THROW(
        {
          try {
            lenet5::engine::train(requested);
          } catch (const std::invalid_argument& e) {
            EXPECT_THAT(e.what(), ::testing::StartsWith(flag + ": ")) << flag;
            throw;
          }
        },
        std::invalid_argument)
        << flag;
  }
  EXPECT_EQ(lenet5::testing::read_file(original.out_dir + "/config.json"), before);
  EXPECT_EQ(read_metrics(original.out_dir).size(), 1u);

  // The same value as the run's is no conflict; a higher --epochs is allowed and recorded.
  auto same = original;
  same.stop_after_epochs = 0;
  same.epochs = 3;
  const auto resumed = lenet5::engine::resume_options(same, {"--lr", "--batch-size", "--epochs"});
  EXPECT_EQ(resumed.epochs, 3);
  lenet5::engine::train(resumed);
  EXPECT_EQ(read_metrics(original.out_dir).size(), 3u);
  EXPECT_EQ(read_config(original.out_dir).at("resumes")[0].at("epochs"), 3);
}

TEST_F(EngineTrain, ResumingAFinishedRunSaysItIsComplete) {
  auto options = quick_options(dir_.file("done"));
  options.epochs = 1;
  options.train_limit = 640;
  lenet5::engine::train(options);
  const auto checkpoint = lenet5::testing::read_file(options.out_dir + "/checkpoint.pt");
  const auto config = lenet5::testing::read_file(options.out_dir + "/config.json");
  options.resume = true;
  const auto result = lenet5::engine::train(options);
  EXPECT_TRUE(result.already_complete);
  EXPECT_EQ(result.history.size(), 1u);
  EXPECT_GT(result.best_test_accuracy, 0.0);
  EXPECT_EQ(lenet5::testing::read_file(options.out_dir + "/checkpoint.pt"), checkpoint);
  EXPECT_EQ(lenet5::testing::read_file(options.out_dir + "/config.json"), config);
}

// Raises the stop flag at a chosen progress report, as the SIGINT handler would between two steps.
class StopAt : public lenet5::engine::TrainObserver {
 public:
  StopAt(std::atomic<bool>& flag, int64_t epoch, int64_t batch) : flag_(flag), epoch_(epoch), batch_(batch) {}
  void on_progress(const lenet5::engine::BatchProgress& p) override {
    if (p.epoch == epoch_ && p.batch >= batch_) flag_.store(true);
  }

 private:
  std::atomic<bool>& flag_;
  int64_t epoch_, batch_;
};

TEST_F(EngineTrain, StopFlagStopsBetweenStepsAndTheRunResumesToTheSameWeights) {
  auto straight = quick_options(dir_.file("straight"));
  straight.log_every = 10;
  lenet5::engine::train(straight);

  auto options = straight;
  options.out_dir = dir_.file("stopped");
  std::atomic<bool> stop{false};
  options.stop = &stop;
  // Stopped in epoch 1 (before any epoch is complete), then in epoch 2, then resumed to the end.
  for (int64_t epoch : {1, 2}) {
    StopAt stop_at(stop, epoch, 20);
    stop.store(false);
    try {
      lenet5::engine::train(options, &stop_at);
      FAIL() << "expected TrainingStopped in epoch " << epoch;
    } catch (const lenet5::engine::TrainingStopped& e) {
      EXPECT_EQ(e.run_dir(), options.out_dir);
      EXPECT_THAT(e.what(),
                  HasSubstr(options.out_dir + "/checkpoint.pt holds epoch " + std::to_string(epoch - 1) + " of 2"));
      EXPECT_THAT(e.what(), HasSubstr("resume with: lenet5 train --resume --out " + options.out_dir));
    }
    EXPECT_EQ(lenet5::engine::load_checkpoint(options.out_dir + "/checkpoint.pt").info.epoch, epoch - 1);
    EXPECT_EQ(read_metrics(options.out_dir).size(), static_cast<size_t>(epoch - 1));
    options.resume = true;
  }
  stop.store(false);
  lenet5::engine::train(options);
  const auto a = weights_of(straight.out_dir + "/checkpoint.pt");
  const auto b = weights_of(options.out_dir + "/checkpoint.pt");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  EXPECT_EQ(read_metrics(options.out_dir).size(), 2u);
}

TEST_F(EngineTrain, CheckpointOfAnotherOptimiserIsAOneLineErrorNamingIt) {
  auto adamw = quick_options(dir_.file("adamw"));
  adamw.epochs = 2;
  adamw.train_limit = 640;
  adamw.stop_after_epochs = 1;
  lenet5::engine::train(adamw);
  auto sgd = adamw;
  sgd.out_dir = dir_.file("sgd");
  sgd.optimizer = OptimizerKind::kSgd;
  lenet5::engine::train(sgd);
  fs::copy_file(sgd.out_dir + "/checkpoint.pt", adamw.out_dir + "/checkpoint.pt", fs::copy_options::overwrite_existing);
  adamw.stop_after_epochs = 0;
  adamw.resume = true;
  try {
    lenet5::engine::train(adamw);
    FAIL() << "resumed from another optimiser's checkpoint";
  } catch (const lenet5::engine::CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr(adamw.out_dir + "/checkpoint.pt: holds the state of a sgd optimiser"));
  }
  // Below the run's check: the optimiser state itself does not fit (torch's internal assert must not show).
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  lenet5::engine::FlatAdamW optimizer(net->parameters(), torch::optim::AdamWOptions(1e-3));
  try {
    lenet5::engine::load_optimizer_state(sgd.out_dir + "/checkpoint.pt", optimizer, torch::kCPU);
    FAIL() << "an SGD state loaded into AdamW";
  } catch (const lenet5::engine::CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr(sgd.out_dir + "/checkpoint.pt: its optimiser state does not fit"));
    EXPECT_THAT(e.what(), Not(HasSubstr("INTERNAL ASSERT")));
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

TEST_F(EngineTrain, EvaluationReportsProgressAfterEachBatch) {
  const auto data = lenet5::data::MnistDataset(lenet5::testing::mnist_dir(), lenet5::data::Split::kTest).slice(0, 2500);
  lenet5::model::LeNet5 net(lenet5::model::Variant::kModern);
  std::vector<std::pair<int64_t, int64_t>> calls;
  lenet5::engine::EvaluateOptions options;
  options.batch_size = 1000;
  options.on_progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  lenet5::engine::evaluate(net, data, options);
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{1000, 2500}, {2000, 2500}, {2500, 2500}}));
}

TEST(EngineEvaluate, ConfusionMatrixLabelsEachClassOnce) {
  lenet5::engine::Evaluation evaluation;
  const std::string digits =
      lenet5::engine::format_evaluation(evaluation, lenet5::data::class_names(lenet5::data::DatasetKind::kMnist));
  EXPECT_THAT(digits, HasSubstr("\n0          "));
  EXPECT_THAT(digits, Not(HasSubstr("0 0")));
  const std::string fashion = lenet5::engine::format_evaluation(
      evaluation, lenet5::data::class_names(lenet5::data::DatasetKind::kFashionMnist));
  EXPECT_THAT(fashion, HasSubstr("\n9 Ankle boot "));
  EXPECT_EQ(lenet5::engine::class_label(7, lenet5::data::class_names(lenet5::data::DatasetKind::kMnist)), "7");
}

TEST(EngineOptions, NameTablesRoundTripAndRejectUnknownNamesNamingTheFlag) {
  for (const auto& [name, kind] : lenet5::engine::optimizer_names()) {
    EXPECT_EQ(lenet5::engine::parse_optimizer(name), kind);
    EXPECT_EQ(lenet5::engine::optimizer_name(kind), name);
  }
  for (const auto& [name, kind] : lenet5::engine::schedule_names()) {
    EXPECT_EQ(lenet5::engine::parse_schedule(name), kind);
    EXPECT_EQ(lenet5::engine::schedule_name(kind), name);
  }
  EXPECT_THROW(lenet5::engine::parse_optimizer("lbfgs"), std::invalid_argument);
  EXPECT_THROW(lenet5::engine::parse_schedule("warm"), std::invalid_argument);
  try {
    lenet5::engine::parse_optimizer("lbfgs");
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith("--optimizer: "));
  }
}

TEST(EngineOptions, RejectsBadValuesNamingTheFlag) {
  TrainOptions base;
  base.data_dir = "/tmp";
  const std::vector<std::pair<std::function<void(TrainOptions&)>, std::string>> cases = {
      {[](TrainOptions& o) { o.epochs = 0; }, "--epochs"},
      {[](TrainOptions& o) { o.batch_size = 0; }, "--batch-size"},
      {[](TrainOptions& o) { o.val_split = 1.5; }, "--val-split"},
      {[](TrainOptions& o) { o.momentum = 1.0; }, "--momentum"},
  };
  for (const auto& [mutate, flag] : cases) {
    TrainOptions options = base;
    mutate(options);
    try {
      lenet5::engine::validate(options);
      ADD_FAILURE() << flag << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), HasSubstr(flag));
    }
  }
}

TEST(EngineSchedule, ShapesMatchTheirDefinitions) {
  using lenet5::engine::learning_rate_at;
  using lenet5::engine::Schedule;
  EXPECT_DOUBLE_EQ(learning_rate_at(Schedule::kNone, 0.1, 57, 10, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(Schedule::kPaper, 1.0, 0, 10, 200), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(Schedule::kPaper, 1.0, 25, 10, 200), 0.4);   // epoch 3
  EXPECT_DOUBLE_EQ(learning_rate_at(Schedule::kPaper, 1.0, 115, 10, 200), 0.1);  // epoch 12
  EXPECT_DOUBLE_EQ(learning_rate_at(Schedule::kPaper, 1.0, 199, 10, 200), 0.02);
  EXPECT_NEAR(learning_rate_at(Schedule::kOneCycle, 1.0, 0, 10, 101), 1.0 / 25, 1e-12);
  EXPECT_NEAR(learning_rate_at(Schedule::kOneCycle, 1.0, 30, 10, 101), 1.0, 1e-12);
  EXPECT_LT(learning_rate_at(Schedule::kOneCycle, 1.0, 100, 10, 101), 1e-5);
  EXPECT_NEAR(learning_rate_at(Schedule::kCosine, 1.0, 50, 10, 101), 0.5, 1e-12);
}

}  // namespace
