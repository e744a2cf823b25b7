// The run folder: one training process at a time, an interrupted run is still a run, only lenet5's own stale
// temporary files are cleaned up, and a folder created for a run that never wrote anything is not left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "lenet5/files/write.h"
#include "lenet5/run_files/epoch_record.h"
#include "lenet5/run_files/evaluation_record.h"
#include "lenet5/run_files/run_folder.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::run_files::RunFolder;
using lenet5::testing::TempDir;
using ::testing::HasSubstr;

void touch(const std::string& path) { lenet5::testing::write_file(path, {'x'}); }

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RunFolder, ASecondRunInTheSameFolderFailsWhileTheFirstHoldsIt) {
  TempDir dir;
  const std::string run = dir.file("run");
  {
    RunFolder first(run, false);
    EXPECT_EQ(error_of([&] { RunFolder second(run, false); }),
              run + ": another lenet5 train is running in this folder; wait for it to end or choose another --out");
    EXPECT_THAT(error_of([&] { RunFolder second(run, true); }), HasSubstr("another lenet5 train is running"));
    touch(first.file("config.json"));
  }
  EXPECT_TRUE(fs::exists(run + "/config.json")) << "a folder with files is kept";
  touch(run + "/checkpoint.pt");
  EXPECT_NO_THROW(RunFolder(run, true)) << "the lock is released with the folder object";
}

TEST(RunFolder, AnyRunFileMakesItARun) {
  TempDir dir;
  for (const auto& name : lenet5::run_files::run_file_names()) {
    const std::string run = dir.file("run-" + name);
    fs::create_directories(run);
    touch(run + "/" + name);
    EXPECT_THAT(error_of([&] { RunFolder folder(run, false); }),
                HasSubstr(run + " already holds a run; pass --resume to continue it or choose another folder (found " +
                          name + ")"));
  }
  // What a full disk leaves: best.pt and metrics.jsonl, but no checkpoint.pt to resume from.
  const std::string partial = dir.file("partial");
  fs::create_directories(partial);
  touch(partial + "/best.pt");
  touch(partial + "/metrics.jsonl");
  EXPECT_THAT(error_of([&] { RunFolder folder(partial, false); }), HasSubstr("(found best.pt, metrics.jsonl)"));
  EXPECT_EQ(error_of([&] { RunFolder folder(partial, true); }),
            "--resume: " + partial +
                "/checkpoint.pt does not exist (the folder holds best.pt, metrics.jsonl: "
                "nothing to resume from)");
  EXPECT_THROW(RunFolder(partial, false), std::invalid_argument) << "a usage error (exit 2)";
}

TEST(RunFolder, OnlyDeadLenet5TemporariesAreCleanedUp) {
  TempDir dir;
  const std::string run = dir.path();
  touch(run + "/thesis.tex.tmp.2024");
  touch(run + "/.write-probe");
  touch(run + "/.checkpoint.pt.lenet5-tmp-999999999-00000000deadbeef");
  RunFolder folder(run, false);
  EXPECT_TRUE(fs::exists(run + "/thesis.tex.tmp.2024"));
  EXPECT_TRUE(fs::exists(run + "/.write-probe"));
  EXPECT_FALSE(fs::exists(run + "/.checkpoint.pt.lenet5-tmp-999999999-00000000deadbeef"));
}

TEST(RunFolder, AFolderCreatedForARunThatWroteNothingIsRemoved) {
  TempDir dir;
  { RunFolder folder(dir.file("fresh/new/run"), false); }
  EXPECT_FALSE(fs::exists(dir.file("fresh"))) << "with the folders created on the way";
  { RunFolder folder(dir.file("fresh/new/run/"), false); }
  EXPECT_FALSE(fs::exists(dir.file("fresh")));
  fs::create_directories(dir.file("mine"));
  { RunFolder folder(dir.file("mine"), false); }
  EXPECT_TRUE(fs::is_directory(dir.file("mine"))) << "a folder that existed before is the user's";
  std::string created;
  {
    RunFolder folder("", false, dir.file("runs"), "modern");
    created = folder.path();
    EXPECT_THAT(created, HasSubstr(dir.file("runs") + "/"));
    EXPECT_THAT(created, ::testing::EndsWith("-modern"));
    RunFolder same_second("", false, dir.file("runs"), "modern");
    EXPECT_NE(same_second.path(), created) << "each new run gets a folder of its own";
  }
  EXPECT_FALSE(fs::exists(created));
}

TEST(RunFolder, OutputThatIsNoFolder) {
  TempDir dir;
  touch(dir.file("plain"));
  EXPECT_EQ(error_of([&] { RunFolder folder(dir.file("plain"), false); }),
            dir.file("plain") + ": exists and is not a folder");
  EXPECT_THAT(error_of([&] { RunFolder folder(dir.file("plain/run"), false); }),
              HasSubstr("plain/run: cannot create folder"));
}

// One record, written by the trainer and read by resume and the report: what one writes the other reads back.
TEST(RunFilesRecords, EpochLineReadsBackAsWritten) {
  lenet5::run_files::EpochRecord record;
  record.epoch = 3;
  record.train_loss = 0.25;
  record.train_accuracy = 0.9;
  record.test_loss = 0.3;
  record.test_accuracy = 0.875;
  record.lr = 1e-3;
  record.seconds = 12.5;
  record.images_per_second = 4800;
  for (const bool validation : {false, true}) {
    if (validation) {
      record.val_loss = 0.28;
      record.val_accuracy = 0.88;
    }
    const std::string line = lenet5::run_files::epoch_line(record);
    const auto back = lenet5::run_files::parse_epoch_line(line, "metrics.jsonl:1", 1);
    EXPECT_EQ(lenet5::run_files::epoch_line(back), line);
    EXPECT_TRUE(back.complete()) << line;
    EXPECT_EQ(back.val_accuracy.has_value(), validation) << line;
  }
  const auto partial = lenet5::run_files::parse_epoch_line(R"({"lr": 0.5, "test_loss": null})", "m:7", 7);
  EXPECT_EQ(partial.epoch, 7) << "a line without an epoch is the epoch of its position";
  EXPECT_TRUE(std::isnan(partial.test_loss));
  EXPECT_FALSE(partial.complete());
  EXPECT_EQ(error_of([] { lenet5::run_files::parse_epoch_line(R"({"epoch": 2, "train_accuracy": 2})", "m:2", 2); }),
            "m:2: field 'train_accuracy' is 2, expected a number in [0, 1]");
}

TEST(RunFilesRecords, EvaluationReadsBackAsWritten) {
  TempDir dir;
  lenet5::run_files::EvaluationRecord record;
  record.n = 20;
  record.accuracy = 0.5;
  record.loss = 1.25;
  record.per_class_accuracy = {0.5, 0.5};
  record.confusion = {{5, 5}, {5, 5}};
  record.worst_mistakes = {{4, 1, 0, 0.75}};
  const std::string text = lenet5::run_files::evaluation_json(record);
  lenet5::files::write_file_atomically(dir.file("evaluation.json"), text);
  const auto back = lenet5::run_files::read_evaluation(dir.file("evaluation.json"), 2);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(lenet5::run_files::evaluation_json(*back), text);
  EXPECT_FALSE(lenet5::run_files::read_evaluation(dir.file("none.json"), 2).has_value());
  EXPECT_THAT(error_of([&] { lenet5::run_files::read_evaluation(dir.file("evaluation.json"), 3); }),
              HasSubstr("field 'per_class_accuracy' has 2 entries, expected 3 (one per class)"));
}

}  // namespace
