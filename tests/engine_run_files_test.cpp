// The run folder: one training process at a time, an interrupted run is still a run, only lenet5's own stale
// temporary files are cleaned up, and a folder created for a run that never wrote anything is not left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "lenet5/engine/run_files.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::engine::RunFolder;
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
  for (const auto& name : lenet5::engine::run_file_names()) {
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
            "--resume: " + partial + "/checkpoint.pt does not exist (the folder holds best.pt, metrics.jsonl: "
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

}  // namespace
