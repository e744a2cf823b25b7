// Hostile inputs to the lenet5 command line: malformed data files, damaged checkpoints, unusable output
// folders and bad flag values. Each must end the command cleanly (exit 2 for usage errors, 1 for runtime
// errors: no crash, no hang, no huge allocation) with a message naming the file or flag. The commands run in
// this process (lenet5::app::run, what main calls); the cases that need a process of their own (a memory or
// file-size limit, another user) start the real executable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::testing::idx_bytes;
using lenet5::testing::TempDir;
using lenet5::testing::write_file;
using lenet5::testing::write_gzip_file;
using ::testing::HasSubstr;
using ::testing::Not;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr const char* kTrainImages = "train-images-idx3-ubyte";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";

using lenet5::testing::CommandResult;

// `lenet5 <arguments>` in this process; `arguments` as for /bin/sh ('...' quotes a path).
CommandResult run_lenet5(const std::string& arguments) {
  const auto outcome = lenet5::testing::run_cli_line(arguments);
  return {outcome.code, outcome.output()};
}

// The real executable through /bin/sh with a 60 s timeout and no core files; `limits` are shell commands run
// first (ulimit ...), `runner` a command that runs it (setpriv ...).
CommandResult run_lenet5_process(const std::string& arguments, const std::string& limits = "",
                                 const std::string& runner = "") {
  return lenet5::testing::run_shell("ulimit -c 0; " + limits + " exec timeout -s KILL 60 " + runner + " " +
                                    std::string(LENET5_BINARY) + " " + arguments + " 2>&1");
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

Bytes images(std::uint32_t count, std::uint32_t rows = 28, std::uint32_t columns = 28) {
  Bytes pixels(static_cast<std::size_t>(count) * rows * columns);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
  return idx_bytes(kImagesMagic, {count, rows, columns}, pixels);
}

Bytes labels(std::uint32_t count) {
  Bytes values(count);
  for (std::uint32_t i = 0; i < count; ++i) values[i] = static_cast<std::uint8_t>(i % 10);
  return idx_bytes(kLabelsMagic, {count}, values);
}

// A small valid dataset folder: 8 training images, 4 test images.
void write_dataset(const std::string& dir) {
  fs::create_directories(dir);
  write_file(dir + "/" + kTrainImages, images(8));
  write_file(dir + "/" + kTrainLabels, labels(8));
  write_file(dir + "/t10k-images-idx3-ubyte", images(4));
  write_file(dir + "/t10k-labels-idx1-ubyte", labels(4));
}

std::string train_arguments(const std::string& data, const std::string& out, int epochs = 1) {
  return "train --data " + quoted(data) + " --out " + quoted(out) + " --epochs " + std::to_string(epochs) +
         " --batch-size 4 --threads 1";
}

Bytes gzip_bytes(const Bytes& bytes) {
  TempDir dir;
  write_gzip_file(dir.file("x.gz"), bytes);
  return lenet5::testing::read_file(dir.file("x.gz"));
}

// ---------------------------------------------------------------------------------------------------------
// Malformed data files: one file of an otherwise valid dataset is replaced; `train` must fail with exit 1
// and a message naming that file.

struct DataCase {
  std::string name;
  std::string file;                                 // which file of the dataset
  std::function<void(const std::string&)> prepare;  // writes (or removes, or replaces) it
  std::string message;                              // expected after "<path>"
  std::string limits = "";                          // shell limits for the run (none by default)
};

void PrintTo(const DataCase& c, std::ostream* os) { *os << c.name; }

std::function<void(const std::string&)> bytes_of(Bytes bytes) {
  return [bytes](const std::string& path) { write_file(path, bytes); };
}

std::function<void(const std::string&)> gzip_of(Bytes bytes) {
  return [bytes](const std::string& path) { write_gzip_file(path, bytes); };
}

Bytes corrupt_gzip() {
  auto bytes = gzip_bytes(images(8));
  for (std::size_t i = 20; i + 8 < bytes.size(); i += 5) bytes[i] ^= 0x5a;  // garble the deflate stream
  return bytes;
}

Bytes truncated_gzip() {
  auto bytes = gzip_bytes(images(8));
  bytes.resize(bytes.size() / 2);
  return bytes;
}

// 2 GB of address space: the process needs about 600 MB, what these headers claim would not fit.
const std::string kMemoryLimit = "ulimit -v 2000000;";

const std::vector<DataCase>& data_cases() {
  static const std::vector<DataCase> cases = {
      {"EmptyFile", kTrainImages, bytes_of({}), ": file is empty, expected an IDX images file"},
      {"TruncatedMagic", kTrainImages, bytes_of({0, 0, 8}), ": truncated header: expected 4 magic bytes"},
      {"TruncatedHeader", kTrainImages, bytes_of(idx_bytes(kImagesMagic, {8, 28}, {})), ": truncated header"},
      {"TruncatedPayload", kTrainImages, bytes_of([] {
         auto b = images(8);
         b.resize(b.size() - 100);
         return b;
       }()),
       ": truncated data: header promises 6272 bytes, file holds 6172"},
      {"WrongMagic", kTrainImages, bytes_of({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}),
       ": wrong magic number: expected 0x00000803 (IDX images), found 0x47494638 (not an IDX file)"},
      {"LabelsWhereImagesExpected", kTrainImages, bytes_of(labels(8)),
       ": wrong magic number: expected 0x00000803 (IDX images), found 0x00000801 (IDX labels)"},
      {"ImagesWhereLabelsExpected", kTrainLabels, bytes_of(images(8)),
       ": wrong magic number: expected 0x00000801 (IDX labels), found 0x00000803 (IDX images)"},
      {"UnsupportedTypeByte", kTrainImages, bytes_of(idx_bytes(0x00000D03, {8, 28, 28}, Bytes(8 * 28 * 28 * 4))),
       ": unsupported element type 0x0d: expected 0x08 (unsigned byte)"},
      {"ZeroDimension", kTrainImages, bytes_of(idx_bytes(kImagesMagic, {8, 0, 28}, {})),
       ": dimension 1 is 0, expected a positive size"},
      {"AbsurdDimensions", kTrainImages, bytes_of(idx_bytes(kImagesMagic, {65535, 65535, 65535}, Bytes(64))),
       ": header claims an absurd size", kMemoryLimit},
      {"BillionsOfImages", kTrainImages, bytes_of(idx_bytes(kImagesMagic, {4000000000u, 28, 28}, Bytes(784))),
       ": header claims an absurd size (dimension 0 = 4000000000)", kMemoryLimit},
      {"BillionsOfLabels", kTrainLabels, bytes_of(idx_bytes(kLabelsMagic, {4000000000u}, Bytes(8))),
       ": header claims an absurd size (dimension 0 = 4000000000)", kMemoryLimit},
      // 2.7 million images (2.1 GB, under the 2 GiB cap) promised by 1 KB of gzip: read as data arrives.
      {"GzipClaimingMillionsOfImages", std::string(kTrainImages) + ".gz",
       gzip_of(idx_bytes(kImagesMagic, {2700000, 28, 28}, Bytes(784))),
       ": truncated data: header promises 2116800000 bytes, found 784", kMemoryLimit},
      {"ImagesNot28x28", kTrainImages, bytes_of(images(8, 32, 32)), ": images are 32x32, the model expects 28x28"},
      {"ImageLabelCountMismatch", kTrainLabels, bytes_of(labels(7)), ": holds 7 labels, but "},
      {"LabelOutOfRange", kTrainLabels, bytes_of(idx_bytes(kLabelsMagic, {8}, {0, 1, 2, 3, 10, 5, 6, 7})),
       ": label 10 at index 4 is out of range: expected 0..9"},
      {"TrailingBytes", kTrainLabels, bytes_of([] {
         auto b = labels(8);
         b.push_back(0);
         return b;
       }()),
       ": trailing bytes after the data: header promises 8 bytes, file holds at least 9"},
      {"CorruptGzip", std::string(kTrainImages) + ".gz", bytes_of(corrupt_gzip()), ": corrupt gzip data"},
      {"TruncatedGzip", std::string(kTrainImages) + ".gz", bytes_of(truncated_gzip()),
       ": corrupt or truncated gzip data"},
      {"DirectoryInsteadOfFile", kTrainImages, [](const std::string& path) { fs::create_directory(path); },
       ": is a folder, expected an IDX file"},
  };
  return cases;
}

class HostileData : public ::testing::TestWithParam<DataCase> {};

TEST_P(HostileData, TrainFailsWithExitOneNamingTheFile) {
  const DataCase& c = GetParam();
  TempDir dir;
  const std::string data = dir.file("data");
  write_dataset(data);
  const std::string path = data + "/" + c.file;
  if (c.file.size() > 3 && c.file.substr(c.file.size() - 3) == ".gz") fs::remove(path.substr(0, path.size() - 3));
  fs::remove(path);
  c.prepare(path);
  if (!c.limits.empty()) {
    const auto probe = run_lenet5_process("summary", c.limits);
    if (probe.exit_code != 0) GTEST_SKIP() << "lenet5 cannot start under '" << c.limits << "':\n" << probe.output;
  }
  // A memory limit needs a process of its own: it shows that no huge allocation is even tried.
  const std::string arguments = train_arguments(data, dir.file("run"));
  const auto result = c.limits.empty() ? run_lenet5(arguments) : run_lenet5_process(arguments, c.limits);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("lenet5: error: "));
  EXPECT_THAT(result.output, HasSubstr(path + c.message));
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoint.pt")));
}

INSTANTIATE_TEST_SUITE_P(Catalogue, HostileData, ::testing::ValuesIn(data_cases()),
                         [](const ::testing::TestParamInfo<DataCase>& info) { return info.param.name; });

TEST(HostileDataFiles, MissingFileIsNamed) {
  TempDir dir;
  const std::string data = dir.file("data");
  write_dataset(data);
  fs::remove(data + "/" + kTrainLabels);
  const auto result = run_lenet5(train_arguments(data, dir.file("run")));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(data + ": missing train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz)"));
  // A dangling symbolic link counts as missing.
  fs::create_symlink(dir.file("gone"), data + "/" + kTrainLabels);
  const auto dangling = run_lenet5(train_arguments(data, dir.file("run")));
  EXPECT_EQ(dangling.exit_code, 1) << dangling.output;
  EXPECT_THAT(dangling.output, HasSubstr(data + ": missing train-labels-idx1-ubyte"));
}

TEST(HostileDataFiles, DataFolderThatIsAFileIsAUsageError) {
  TempDir dir;
  write_file(dir.file("plain"), labels(3));
  const auto result = run_lenet5(train_arguments(dir.file("plain"), dir.file("run")));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--data"));
}

TEST(HostileDataFiles, UnreadableFileIsNamed) {
  TempDir dir;
  const std::string data = dir.file("data");
  write_dataset(data);
  const std::string path = data + "/" + kTrainImages;
  fs::permissions(path, fs::perms::none);
  const std::string out = dir.file("out");  // writable by whichever user runs lenet5
  fs::create_directory(out);
  fs::permissions(out, fs::perms::all);
  // Root reads any file (CAP_DAC_OVERRIDE): then lenet5 runs as the unprivileged user nobody, which can reach
  // every file here but the one made unreadable.
  std::string runner;
  if (::access(path.c_str(), R_OK) == 0) {
    runner = "setpriv --reuid=nobody --regid=nogroup --clear-groups";
    const auto probe = lenet5::testing::run_shell(runner + " true 2>&1");
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "running as root, which chmod 000 does not stop, and '" << runner
                   << "' cannot switch to an unprivileged user: " << probe.output;
    }
  }
  const auto result = run_lenet5_process(train_arguments(data, out + "/run"), "", runner);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(path + ": cannot open: Permission denied"));
}

// ---------------------------------------------------------------------------------------------------------
// Checkpoints: one real run trained once for the whole suite, then damaged copies of its checkpoint.

class HostileCheckpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_dataset(data());
    const auto trained = run_lenet5(train_arguments(data(), run()));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
    const auto exported =
        run_lenet5("export --checkpoint " + quoted(checkpoint()) + " --out " + quoted(dir_->file("model.pt")));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string data() { return dir_->file("data"); }
  static std::string run() { return dir_->file("run"); }
  static std::string checkpoint() { return dir_->file("run/checkpoint.pt"); }
  static Bytes good_bytes() { return lenet5::testing::read_file(checkpoint()); }

  // `eval` of a damaged checkpoint fails with exit 1 and names it.
  void expect_eval_rejects(const std::string& path, const std::string& message) {
    const auto result = run_lenet5("eval --checkpoint " + quoted(path) + " --data " + quoted(data()));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr(path + ": " + message));
  }

  TempDir files_;
  static TempDir* dir_;
};

TempDir* HostileCheckpoint::dir_ = nullptr;

TEST_F(HostileCheckpoint, GoodCheckpointLoads) {
  const auto result = run_lenet5("eval --checkpoint " + quoted(checkpoint()) + " --data " + quoted(data()));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("epoch 1"));
}

TEST_F(HostileCheckpoint, FlippedByteIsAChecksumMismatch) {
  auto bytes = good_bytes();
  bytes[bytes.size() / 2] ^= 0x01;  // inside the weights: the archive itself would still load
  write_file(files_.file("flipped.pt"), bytes);
  expect_eval_rejects(files_.file("flipped.pt"), "checksum mismatch (corrupt checkpoint)");
}

TEST_F(HostileCheckpoint, TruncatedIsNotReadable) {
  auto bytes = good_bytes();
  bytes.resize(bytes.size() / 2);
  write_file(files_.file("truncated.pt"), bytes);
  expect_eval_rejects(files_.file("truncated.pt"), "not a readable checkpoint");
}

TEST_F(HostileCheckpoint, TrailerCutOffIsNotReadable) {
  auto bytes = good_bytes();
  bytes.resize(bytes.size() - 3);
  write_file(files_.file("cut.pt"), bytes);
  expect_eval_rejects(files_.file("cut.pt"), "checksum missing (corrupt or truncated checkpoint)");
}

TEST_F(HostileCheckpoint, EmptyOrTextIsNotReadable) {
  write_file(files_.file("empty.pt"), {});
  expect_eval_rejects(files_.file("empty.pt"), "not a readable checkpoint");
  write_file(files_.file("text.pt"), {'{', '"', 'a', '"', ':', '1', '}'});
  expect_eval_rejects(files_.file("text.pt"), "not a readable checkpoint");
}

TEST_F(HostileCheckpoint, ForeignTorchArchiveIsNotOurs) {
  // An exported TorchScript model: named as such, with the flag that takes it.
  expect_eval_rejects(dir_->file("model.pt"),
                      "is an exported TorchScript model (lenet5 export), not a training "
                      "checkpoint; evaluate it with --model " +
                          dir_->file("model.pt"));
  expect_eval_rejects(dir_->file("data/" + std::string(kTrainImages)), "not a readable checkpoint");
}

TEST_F(HostileCheckpoint, MissingOrFolderIsNamed) {
  expect_eval_rejects(files_.file("absent.pt"), "checkpoint not found");
  expect_eval_rejects(files_.path(), "is a folder, expected a checkpoint file");
}

TEST_F(HostileCheckpoint, ResumeFromACorruptCheckpointFailsAndKeepsIt) {
  const std::string copy = files_.file("run");
  fs::copy(run(), copy, fs::copy_options::recursive);
  auto bytes = good_bytes();
  bytes[bytes.size() / 3] ^= 0x80;
  write_file(copy + "/checkpoint.pt", bytes);
  const auto result = run_lenet5(train_arguments(data(), copy, 2) + " --resume");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(copy + "/checkpoint.pt: checksum mismatch (corrupt checkpoint)"));
  EXPECT_EQ(lenet5::testing::read_file(copy + "/checkpoint.pt"), bytes);
}

// ---------------------------------------------------------------------------------------------------------
// Output folders that cannot be used: detected before the data is even read (the dataset here is broken,
// so an error naming it would mean the folder was checked too late).

class HostileOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    write_dataset(data());
    write_file(data() + "/" + kTrainImages, {});
  }
  std::string data() const { return dir_.file("data"); }
  void expect_rejected(const std::string& out, const std::string& message) {
    const auto result = run_lenet5(train_arguments(data(), out));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr(message));
    EXPECT_THAT(result.output, Not(HasSubstr(kTrainImages)));
  }
  TempDir dir_;
};

TEST_F(HostileOutput, OutUnderARegularFile) {
  write_file(dir_.file("plain"), {1});
  expect_rejected(dir_.file("plain/run"), dir_.file("plain/run") + ": cannot create folder");
}

TEST_F(HostileOutput, OutIsARegularFile) {
  write_file(dir_.file("plain"), {1});
  expect_rejected(dir_.file("plain"), dir_.file("plain") + ": exists and is not a folder");
}

TEST_F(HostileOutput, OutInsideProc) {
  expect_rejected("/proc/lenet5-hostile/run", "/proc/lenet5-hostile/run: cannot create folder");
}

TEST_F(HostileOutput, OutIsAReadOnlyFolder) {
  expect_rejected("/proc/self", "/proc/self: folder is not writable");  // read-only even for root
}

// A full disk, simulated with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with EFBIG):
// the small run files fit, the checkpoints do not. The failed write must leave the previous checkpoint
// and no temporary file behind.
TEST(HostileOutputFull, CheckpointWriteFailureKeepsThePreviousCheckpoint) {
  TempDir dir;
  write_dataset(dir.file("data"));
  const std::string run = dir.file("run");
  const auto first = run_lenet5(train_arguments(dir.file("data"), run));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto before = lenet5::testing::read_file(run + "/checkpoint.pt");
  const auto result =
      run_lenet5_process(train_arguments(dir.file("data"), run, 2) + " --resume", "trap '' XFSZ; ulimit -f 200;");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr(run + "/"));  // best.pt or checkpoint.pt, whichever is written first
  EXPECT_THAT(result.output, HasSubstr(".pt: cannot write: File too large"));
  EXPECT_EQ(lenet5::testing::read_file(run + "/checkpoint.pt"), before);
  for (const auto& entry : fs::directory_iterator(run)) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr("lenet5-tmp"))) << "left behind";
  }
  // ...and the run resumes once there is room again.
  const auto resumed = run_lenet5(train_arguments(dir.file("data"), run, 2) + " --resume");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

// ---------------------------------------------------------------------------------------------------------
// Invalid flag values: exit 2 naming the flag, and no checkpoint written.

struct FlagCase {
  std::string name;
  std::string arguments;  // appended to "train --data DATA --out RUN"
  std::string flag;       // expected in the message
};

void PrintTo(const FlagCase& c, std::ostream* os) { *os << c.arguments; }

class HostileFlags : public ::testing::TestWithParam<FlagCase> {};

TEST_P(HostileFlags, AreUsageErrorsNamingTheFlag) {
  TempDir dir;
  write_dataset(dir.file("data"));
  const auto result = run_lenet5("train --data " + quoted(dir.file("data")) + " --out " + quoted(dir.file("run")) +
                                 " " + GetParam().arguments);
  EXPECT_EQ(result.exit_code, 2) << GetParam().arguments << "\n" << result.output;
  EXPECT_THAT(result.output, HasSubstr(GetParam().flag)) << GetParam().arguments;
  EXPECT_FALSE(fs::exists(dir.file("run/checkpoint.pt")));
}

INSTANTIATE_TEST_SUITE_P(
    Catalogue, HostileFlags,
    ::testing::Values(
        FlagCase{"EpochsNotANumber", "--epochs abc", "--epochs"}, FlagCase{"EpochsNegative", "--epochs -1", "--epochs"},
        FlagCase{"EpochsOverflow", "--epochs 99999999999999999999999",
                 "--epochs: 99999999999999999999999 is out of range; expected a whole number from 1 to 1,000,000"},
        FlagCase{"EpochsWithoutValue", "--epochs", "--epochs"},
        FlagCase{"BatchSizeZero", "--batch-size 0", "--batch-size"}, FlagCase{"LrNegative", "--lr -0.1", "--lr"},
        FlagCase{"LrNan", "--lr nan", "--lr"}, FlagCase{"LrInfinite", "--lr inf", "--lr"},
        FlagCase{"MomentumAboveOne", "--momentum 1.5", "--momentum"},
        FlagCase{"WeightDecayNegative", "--weight-decay -1", "--weight-decay"},
        FlagCase{"ValSplitTooLarge", "--val-split 0.9", "--val-split"},
        FlagCase{"ThreadsNegative", "--threads -2", "--threads"},
        FlagCase{"LimitTrainNegative", "--limit-train -5", "--limit-train"},
        FlagCase{"SeedNotANumber", "--seed banana", "--seed"},
        FlagCase{"UnknownSchedule", "--schedule sometimes", "--schedule"},
        FlagCase{"UnknownDataset", "--dataset cifar10", "--dataset"},
        FlagCase{"UnknownDevice", "--device tpu", "--device"}, FlagCase{"UnknownFlag", "--frobnicate", "--frobnicate"},
        FlagCase{"RepeatedFlag", "--epochs 1 --epochs 2", "--epochs"},
        FlagCase{"ThreadsAbsurd", "--threads 100000",
                 "--threads: 100000 is out of range; expected a whole number from 0 to 1,024"},
        FlagCase{"TargetAccuracyAbove100", "--target-accuracy 150", "--target-accuracy"},
        FlagCase{"TargetAccuracyZero", "--target-accuracy 0", "--target-accuracy"},
        FlagCase{"ValSplitOfOneImage", "--val-split 0.2 --limit-train 1",
                 "--val-split: the training set holds 1 image"}),
    [](const ::testing::TestParamInfo<FlagCase>& info) { return info.param.name; });

// A batch size past the dataset (up to INT64_MAX) is one step per epoch, not an overflow.
TEST(HostileFlagValues, HugeBatchSizeTrainsOneStepPerEpoch) {
  TempDir dir;
  write_dataset(dir.file("data"));
  const auto result = run_lenet5("train --data " + quoted(dir.file("data")) + " --out " + quoted(dir.file("run")) +
                                 " --epochs 1 --threads 1 --batch-size 9223372036854775807");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("epoch 1: train loss 2."));
}

TEST(HostileResume, WithoutACheckpointIsAUsageError) {
  TempDir dir;
  write_dataset(dir.file("data"));
  fs::create_directories(dir.file("run"));
  const auto result = run_lenet5(train_arguments(dir.file("data"), dir.file("run")) + " --resume");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_THAT(result.output, HasSubstr("--resume: " + dir.file("run/checkpoint.pt") + " does not exist"));
}

}  // namespace
