// lenet5_files: inputs that are not regular files are refused without blocking; outputs never replace an input,
// a device or a file lenet5 did not make, and are written whole or not at all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "lenet5/files/read.h"
#include "lenet5/files/write.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::files::FileError;
using lenet5::files::InputKind;
using lenet5::testing::TempDir;
using ::testing::HasSubstr;

std::string text_of(const std::string& path) {
  const auto bytes = lenet5::testing::read_file(path);
  return {bytes.begin(), bytes.end()};
}

void write_text(const std::string& path, const std::string& text) {
  lenet5::testing::write_file(path, {text.begin(), text.end()});
}

// A blocking open or read would hang the suite: SIGALRM ends the test process instead.
class NoHang : public ::testing::Test {
 protected:
  void SetUp() override { ::alarm(30); }
  void TearDown() override { ::alarm(0); }
  TempDir dir_;
};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const FileError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(NoHang, ReadInputRefusesEveryKindOfNonRegularFile) {
  const std::string fifo = dir_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string socket_path = dir_.file("socket");
  const int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socket_path.copy(address.sun_path, sizeof address.sun_path - 1);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);  // what <(...) process substitution hands over as /dev/fd/63
  const std::string pipe_path = "/proc/self/fd/" + std::to_string(pipe_ends[0]);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {fifo, ": is a FIFO (named pipe), expected a checkpoint file"},
      {pipe_path, ": is a FIFO (named pipe), expected a checkpoint file"},
      {socket_path, ": is a socket, expected a checkpoint file"},
      {"/dev/zero", ": is a character device, expected a checkpoint file"},
      {dir_.path(), ": is a folder, expected a checkpoint file"},
      {dir_.file("absent"), ": checkpoint not found"},
  };
  for (const auto& [path, message] : cases) {
    EXPECT_THAT(error_of([&] { lenet5::files::read_input(path, InputKind::kCheckpoint); }),
                ::testing::StartsWith(path + message));
  }
  ::close(server);
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);
}

TEST_F(NoHang, MessagesNameWhatWasExpected) {
  const std::string fifo = dir_.file("x");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(error_of([&] { lenet5::files::InputFile(fifo, InputKind::kImage); }),
              HasSubstr("expected an image file"));
  EXPECT_THAT(error_of([&] { lenet5::files::InputFile(fifo, InputKind::kModel); }),
              HasSubstr("expected an exported model file"));
  EXPECT_THAT(error_of([&] { lenet5::files::InputFile(fifo, InputKind::kIdx); }), HasSubstr("expected an IDX file"));
  EXPECT_THAT(error_of([&] { lenet5::files::InputFile(dir_.file("none"), InputKind::kModel); }),
              HasSubstr("none: model file not found"));
}

TEST_F(NoHang, ReadInputReadsARegularFileAndALinkToOne) {
  write_text(dir_.file("a"), "hello");
  fs::create_symlink(dir_.file("a"), dir_.file("link"));
  EXPECT_EQ(lenet5::files::read_input(dir_.file("a"), InputKind::kRunFile), "hello");
  EXPECT_EQ(lenet5::files::read_input(dir_.file("link"), InputKind::kRunFile), "hello");
  EXPECT_THAT(error_of([&] { lenet5::files::read_input(dir_.file("a"), InputKind::kRunFile, 4); }),
              HasSubstr("5 bytes, more than the 4"));
}

TEST(CheckOutputPath, RefusesAnInputUnderAnyName) {
  TempDir dir;
  const std::string input = dir.file("checkpoint.pt");
  write_text(input, "weights");
  fs::create_symlink(input, dir.file("symlink.pt"));
  fs::create_hard_link(input, dir.file("hardlink.pt"));
  const std::string via_dot = dir.path() + "/./checkpoint.pt";
  for (const std::string& out : {input, dir.file("symlink.pt"), dir.file("hardlink.pt"), via_dot}) {
    EXPECT_THAT(error_of([&] { lenet5::files::check_output_path(out, {input}); }),
                HasSubstr(out + ": is the input " + input));
  }
  write_text(dir.file("other.pt"), "old");
  EXPECT_NO_THROW(lenet5::files::check_output_path(dir.file("other.pt"), {input}));
  EXPECT_NO_THROW(lenet5::files::check_output_path(dir.file("new.pt"), {input, dir.file("absent")}));
  EXPECT_EQ(text_of(input), "weights");
}

TEST(CheckOutputPath, NeverReplacesADeviceAFifoOrAFolder) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(error_of([&] { lenet5::files::write_file_atomically(fifo, "x"); }),
              HasSubstr(fifo + ": exists and is not a regular file"));
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_THAT(error_of([&] { lenet5::files::write_file_atomically(dir.path(), "x"); }), HasSubstr(": is a folder"));
  // A copy of /dev/full's node (as root; skipped where mknod is not allowed): it must stay a device.
  const std::string device = dir.file("full");
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0) {
    EXPECT_THAT(error_of([&] { lenet5::files::write_file_atomically(device, "x"); }),
                HasSubstr(device + ": exists and is not a regular file"));
    struct stat info {};
    ASSERT_EQ(::stat(device.c_str(), &info), 0);
    EXPECT_TRUE(S_ISCHR(info.st_mode));
  }
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr("lenet5-tmp"))) << "left behind";
  }
}

// Under a file-size limit the kernel would kill the writer with SIGXFSZ half-way; the previous content stays.
TEST(WriteFileAtomically, AFileSizeLimitFailsTheWriteAndKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir.file("figure.svg");
  write_text(path, "<svg>old</svg>");
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string message = error_of([&] { lenet5::files::write_file_atomically(path, std::string(100000, 'x')); });
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  EXPECT_EQ(message, path + ": cannot write: File too large");
  EXPECT_EQ(text_of(path), "<svg>old</svg>");
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "figure.svg") << "left behind";
  }
}

TEST(WriteNewFile, TakesTheNextFreeNameAndReplacesNothing) {
  TempDir dir;
  write_text(dir.file("digit.png"), "input image");
  write_text(dir.file("digit-2.png"), "someone's file");
  EXPECT_EQ(lenet5::files::write_new_file(dir.path(), "digit", ".png", "A"), dir.file("digit-3.png"));
  EXPECT_EQ(lenet5::files::write_new_file(dir.path(), "other", ".png", "B"), dir.file("other.png"));
  EXPECT_EQ(text_of(dir.file("digit.png")), "input image");
  EXPECT_EQ(text_of(dir.file("digit-2.png")), "someone's file");
  EXPECT_EQ(text_of(dir.file("digit-3.png")), "A");
  EXPECT_EQ(text_of(dir.file("other.png")), "B");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 4);
}

TEST(EnsureWritableDirectory, ProbesWithAFileOfItsOwn) {
  TempDir dir;
  write_text(dir.file(".write-probe"), "a user's file");
  lenet5::files::ensure_writable_directory(dir.path());
  EXPECT_EQ(text_of(dir.file(".write-probe")), "a user's file");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  lenet5::files::ensure_writable_directory(dir.file("new/sub"));
  EXPECT_TRUE(fs::is_directory(dir.file("new/sub")));
  EXPECT_THAT(error_of([&] { lenet5::files::ensure_writable_directory(dir.file(".write-probe")); }),
              HasSubstr("exists and is not a folder"));
}

TEST(TemporaryFiles, OnlyDeadLenet5TemporariesAreRemoved) {
  TempDir dir;
  const std::string live = ".a.pt.lenet5-tmp-" + std::to_string(::getpid()) + "-0123456789abcdef";
  const std::string dead = ".a.pt.lenet5-tmp-999999999-0123456789abcdef";  // beyond any pid_max
  const std::vector<std::string> foreign = {"thesis.tex.tmp.2024", "a.pt.tmp.123", ".a.pt.lenet5-tmp-1-x",
                                            "lenet5-tmp-1-0123456789abcdef", ".a.lenet5-tmp-999999999-0123"};
  for (const auto& name : foreign) write_text(dir.file(name), "mine");
  write_text(dir.file(live), "being written");
  write_text(dir.file(dead), "left by a killed run");
  EXPECT_TRUE(lenet5::files::is_temporary_file_name(dead));
  for (const auto& name : foreign) EXPECT_FALSE(lenet5::files::is_temporary_file_name(name)) << name;
  lenet5::files::remove_stale_temporary_files(dir.path());
  for (const auto& name : foreign) EXPECT_TRUE(fs::exists(dir.file(name))) << name;
  EXPECT_TRUE(fs::exists(dir.file(live)));
  EXPECT_FALSE(fs::exists(dir.file(dead)));
}

}  // namespace
