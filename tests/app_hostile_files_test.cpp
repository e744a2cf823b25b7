// Hostile files around the real lenet5 executable, one class per test: inputs that are not regular files,
// outputs that alias inputs or foreign files, concurrent runs, file names that look like options and file-size
// limits. The library tests (files_test, run_files_test, ...) cover each case in-process; these check the
// wiring through every command with few process starts. Every run has a timeout, so a hang fails, never blocks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lenet5/run_files/run_folder.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::testing::CommandResult;
using lenet5::testing::idx_bytes;
using lenet5::testing::read_file;
using lenet5::testing::TempDir;
using lenet5::testing::write_file;
using ::testing::HasSubstr;
using ::testing::Not;
using Bytes = std::vector<std::uint8_t>;

constexpr int kTimedOut = 137;  // timeout -s KILL

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// The binary through /bin/sh, killed after 60 s; `prefix` runs first (cd, ulimit).
CommandResult run_lenet5(const std::string& arguments, const std::string& prefix = "") {
  return lenet5::testing::run_shell("ulimit -c 0; " + prefix + " exec timeout -s KILL 60 " +
                                    std::string(LENET5_BINARY) + " " + arguments + " 2>&1");
}

std::string train_arguments(const std::string& data, const std::string& out, int epochs = 1) {
  return "train --data " + quoted(data) + " --out " + quoted(out) + " --epochs " + std::to_string(epochs) +
         " --batch-size 4 --threads 1";
}

void write_text(const std::string& path, const std::string& text) { write_file(path, Bytes(text.begin(), text.end())); }

// 8 training and 4 test images of 28x28.
void write_dataset(const std::string& dir) {
  fs::create_directories(dir);
  auto images = [](std::uint32_t count) {
    Bytes pixels(count * 784u);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
    return idx_bytes(0x803, {count, 28, 28}, pixels);
  };
  auto labels = [](std::uint32_t count) {
    Bytes values(count);
    for (std::uint32_t i = 0; i < count; ++i) values[i] = static_cast<std::uint8_t>(i % 10);
    return idx_bytes(0x801, {count}, values);
  };
  write_file(dir + "/train-images-idx3-ubyte", images(8));
  write_file(dir + "/train-labels-idx1-ubyte", labels(8));
  write_file(dir + "/t10k-images-idx3-ubyte", images(4));
  write_file(dir + "/t10k-labels-idx1-ubyte", labels(4));
}

void make_fifo(const std::string& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << path; }

void expect_refused(const CommandResult& result, const std::string& message) {
  EXPECT_NE(result.exit_code, kTimedOut) << "hung on a non-regular file";
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(message));
  EXPECT_THAT(result.output, Not(HasSubstr("wrote "))) << "success reported before the failure";
}

// ---------------------------------------------------------------------------------------------------------
// Inputs that are not regular files: FIFOs and devices are refused with one line, never read or waited on.

TEST(HostileFiles, NonRegularInputsAreRefusedNotWaitedOn) {
  TempDir dir;
  const std::string data = dir.file("data");
  write_dataset(data);
  fs::remove(data + "/train-images-idx3-ubyte");
  make_fifo(data + "/train-images-idx3-ubyte");
  const std::string run = dir.file("new-run");
  expect_refused(run_lenet5(train_arguments(data, run)),
                 data + "/train-images-idx3-ubyte: is a FIFO (named pipe), expected an IDX file");
  EXPECT_FALSE(fs::exists(run)) << "the run folder created for a run that never started is removed";

  make_fifo(dir.file("checkpoint.pt"));
  expect_refused(run_lenet5("export --checkpoint " + dir.file("checkpoint.pt") + " --out " + dir.file("m.pt")),
                 dir.file("checkpoint.pt") + ": is a FIFO (named pipe), expected a checkpoint file");
  EXPECT_FALSE(fs::exists(dir.file("m.pt")));

  expect_refused(run_lenet5("predict --model /dev/zero " + dir.file("digit.png")),
                 "/dev/zero: is a character device, expected an exported model file");

  const std::string report_run = dir.file("report-run");
  fs::create_directories(report_run);
  write_text(report_run + "/config.json", "{\"variant\": \"modern\"}");
  make_fifo(report_run + "/metrics.jsonl");
  expect_refused(run_lenet5("report " + report_run),
                 report_run + "/metrics.jsonl: is a FIFO (named pipe), expected a regular file");
}

// ---------------------------------------------------------------------------------------------------------
// Outputs never destroy an input or a file lenet5 did not write.

TEST(HostileFiles, OutputsNeverReplaceInputsOrForeignFiles) {
  TempDir dir;
  write_dataset(dir.file("data"));
  const std::string run = dir.file("run");
  const auto trained = run_lenet5(train_arguments(dir.file("data"), run));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::string best = run + "/best.pt";
  const auto checkpoint_bytes = read_file(best);

  const auto onto_itself = run_lenet5("export --checkpoint " + best + " --out " + run + "/./best.pt");
  EXPECT_EQ(onto_itself.exit_code, 1) << onto_itself.output;
  EXPECT_THAT(onto_itself.output, HasSubstr(run + "/./best.pt: is the input " + best));
  EXPECT_EQ(read_file(best), checkpoint_bytes);

  const std::string model = dir.file("model.pt");
  const auto exported = run_lenet5("export --checkpoint " + best + " --out " + model);
  ASSERT_EQ(exported.exit_code, 0) << exported.output;

  // The input image lives in the folder the preprocessed images go to, next to files of the user's.
  const std::string seen = dir.file("seen");
  fs::create_directories(seen);
  std::string pgm = "P5\n28 28\n255\n";
  for (int i = 0; i < 28 * 28; ++i) pgm += static_cast<char>((i % 28 > 10 && i % 28 < 16) ? 0 : 255);
  write_text(seen + "/digit.pgm", pgm);
  write_text(seen + "/digit.png", "a file of the user's, not an image");
  write_text(seen + "/.write-probe", "also the user's");
  const auto predicted =
      run_lenet5("predict --model " + model + " --save-preprocessed " + seen + " " + seen + "/digit.pgm");
  EXPECT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_THAT(predicted.output, HasSubstr(seen + "/digit.png exists; saved as " + seen + "/digit-2.png"));
  EXPECT_EQ(read_file(seen + "/digit.pgm"), Bytes(pgm.begin(), pgm.end()));
  EXPECT_EQ(read_file(seen + "/digit.png").size(), 34u);
  EXPECT_EQ(read_file(seen + "/.write-probe").size(), 15u);
  EXPECT_TRUE(fs::exists(seen + "/digit-2.png"));
  EXPECT_EQ(std::distance(fs::directory_iterator(seen), fs::directory_iterator()), 4) << "nothing else left";
}

// ---------------------------------------------------------------------------------------------------------
// Two runs into one folder: the second fails at once while the first holds it; foreign files that merely look
// temporary are kept, a dead run's temporary file is removed.

TEST(HostileFiles, ASecondRunIntoABusyFolderFailsAndForeignFilesAreKept) {
  TempDir dir;
  write_dataset(dir.file("data"));
  const std::string run = dir.file("run");
  fs::create_directories(run);
  {
    // Held here the way a running `lenet5 train` holds it (the same lock, from another process).
    const lenet5::run_files::RunFolder running(run, false);
    const auto second = run_lenet5(train_arguments(dir.file("data"), run));
    EXPECT_EQ(second.exit_code, 1) << second.output;
    EXPECT_THAT(second.output, HasSubstr(run + ": another lenet5 train is running in this folder"));
    EXPECT_EQ(std::distance(fs::directory_iterator(run), fs::directory_iterator()), 0) << "nothing written";
  }
  write_text(run + "/thesis.tex.tmp.2024", "chapter 1");
  write_text(run + "/.write-probe", "mine");
  const std::string stale = run + "/.checkpoint.pt.lenet5-tmp-999999999-0123456789abcdef";  // a dead run's
  write_text(stale, "partial");
  const auto first = run_lenet5(train_arguments(dir.file("data"), run));
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(fs::exists(run + "/thesis.tex.tmp.2024"));
  EXPECT_TRUE(fs::exists(run + "/.write-probe"));
  EXPECT_FALSE(fs::exists(stale));
}

// ---------------------------------------------------------------------------------------------------------
// visualize: a file name that looks like an option stays a file name; a write that hits a file-size limit
// leaves the previous figure whole.

TEST(HostileFiles, VisualizeWritesWholeFilesUnderAnyName) {
  TempDir dir;
  const bool has_converter = lenet5::testing::run_shell("command -v rsvg-convert").exit_code == 0;
  const std::string png_flag = has_converter ? " --png" : "";
  const auto dashed = run_lenet5("visualize --variant modern --out=--zoom.svg" + png_flag, "cd " + dir.path() + ";");
  EXPECT_EQ(dashed.exit_code, 0) << dashed.output;
  EXPECT_TRUE(fs::exists(dir.file("--zoom.svg")));
  if (has_converter) {
    const auto png = read_file(dir.file("--zoom.png"));
    EXPECT_TRUE(png.size() > 8 && std::string(png.begin() + 1, png.begin() + 4) == "PNG") << "no PNG written";
  }

  write_text(dir.file("figure.svg"), "<svg>the previous figure</svg>");
  const auto limited = run_lenet5("visualize --variant modern --out " + dir.file("figure.svg"), "ulimit -f 1;");
  EXPECT_EQ(limited.exit_code, 1) << limited.output;
  EXPECT_THAT(limited.output, HasSubstr(dir.file("figure.svg") + ": cannot write: File too large"));
  EXPECT_EQ(read_file(dir.file("figure.svg")).size(), std::string("<svg>the previous figure</svg>").size());
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr("lenet5-tmp"))) << "left behind";
  }
}

}  // namespace
