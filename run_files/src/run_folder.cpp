#include "lenet5/run_files/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "lenet5/files/read.h"
#include "lenet5/files/write.h"

namespace lenet5::run_files {
namespace fs = std::filesystem;
namespace {

// Creates a new, unique folder <parent>/<YYYYmmdd-HHMMSS>-<label>[-N] (mkdir is the uniqueness test).
std::string create_new_run_directory(const std::string& parent, const std::string& label) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) throw files::FileError(parent + ": cannot create folder: " + error.message());
  const std::string base = (fs::path(parent) / (std::string(stamp) + "-" + label)).string();
  for (int suffix = 1; suffix < 10000; ++suffix) {
    const std::string candidate = suffix == 1 ? base : base + "-" + std::to_string(suffix);
    if (::mkdir(candidate.c_str(), 0777) == 0) return candidate;
    if (errno != EEXIST) throw files::FileError(candidate + ": cannot create folder: " + std::strerror(errno));
  }
  throw files::FileError(base + ": no free run folder name");
}

// `dir` without "." parts or a trailing slash ("a/./b/" names the folder a/b).
fs::path folder_path(const std::string& dir) {
  fs::path folder = fs::path(dir).lexically_normal();
  return !folder.empty() && folder.filename().empty() ? folder.parent_path() : folder;
}

// The first folder on the way down to `dir` that does not exist yet: the top of what creating `dir` creates.
std::string highest_missing_folder(const std::string& dir) {
  fs::path top = folder_path(dir);
  struct stat info {};
  while (top.has_parent_path() && top.parent_path() != top && ::stat(top.parent_path().c_str(), &info) != 0) {
    top = top.parent_path();
  }
  return top.string();
}

// The run files present in `dir`, comma-separated; empty when none.
std::string run_files_in(const std::string& dir) {
  std::string found;
  for (const auto& name : run_file_names()) {
    if (files::exists((fs::path(dir) / name).string())) found += (found.empty() ? "" : ", ") + name;
  }
  return found;
}

}  // namespace

RunFolder::RunFolder(const std::string& dir, bool resume, const std::string& parent, const std::string& label) {
  create(dir, parent, label);
  try {
    files::ensure_writable_directory(path_);
  } catch (...) {
    release();
    throw;
  }
  lock();
  try {
    check_contents(resume);
    files::remove_stale_temporary_files(path_);
  } catch (...) {
    release();
    throw;
  }
}

void RunFolder::create(const std::string& dir, const std::string& parent, const std::string& label) {
  if (dir.empty()) {
    path_ = create_new_run_directory(parent, label);
    created_top_ = path_;
    return;
  }
  path_ = dir;
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) throw files::FileError(dir + ": exists and is not a folder");
    return;
  }
  created_top_ = highest_missing_folder(dir);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw files::FileError(dir + ": cannot create folder: " + error.message());
}

void RunFolder::lock() {
  lock_fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  // A filesystem without locks (ENOLCK, EINVAL) runs unlocked; only a lock held by another process stops us.
  if (lock_fd_ >= 0 && ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw files::FileError(path_ +
                           ": another lenet5 train is running in this folder; wait for it to end or choose "
                           "another --out");
  }
}

void RunFolder::check_contents(bool resume) const {
  const std::string checkpoint = file(kCheckpoint);
  const std::string present = run_files_in(path_);
  if (resume && !files::exists(checkpoint)) {
    const std::string holds = present.empty() ? "" : " (the folder holds " + present + ": nothing to resume from)";
    throw std::invalid_argument("--resume: " + checkpoint + " does not exist" + holds);
  }
  if (!resume && !present.empty()) {
    throw std::invalid_argument("--out: " + path_ +
                                " already holds a run; pass --resume to continue it or choose "
                                "another folder (found " +
                                present + ")");
  }
}

RunFolder::~RunFolder() { release(); }

void RunFolder::release() {
  // Folders created here and still empty go again (rmdir fails on a folder with anything in it).
  for (fs::path folder = folder_path(path_); !created_top_.empty() && ::rmdir(folder.c_str()) == 0;
       folder = folder.parent_path()) {
    if (folder == fs::path(created_top_)) break;
  }
  created_top_.clear();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

std::string RunFolder::file(const char* name) const { return (fs::path(path_) / name).string(); }

}  // namespace lenet5::run_files
