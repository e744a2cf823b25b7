#include "latest_link.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

fs::path parent_of(const std::string& run_dir) {
  const fs::path parent = fs::path(run_dir).lexically_normal().parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

fs::path name_of(const std::string& run_dir) { return fs::path(run_dir).lexically_normal().filename(); }

}  // namespace

std::string latest_link_path(const std::string& run_dir) {
  const fs::path parent = fs::path(run_dir).lexically_normal().parent_path();
  return (parent / "latest").string();
}

void point_latest_link(const std::string& run_dir) {
  const fs::path link = parent_of(run_dir) / "latest";
  std::error_code error;
  const auto status = fs::symlink_status(link, error);
  if (fs::exists(status) && !fs::is_symlink(status)) {
    std::cerr << "lenet5: warning: " << link.string() << " exists and is not a link; left as it is\n";
    return;
  }
  const fs::path temporary = parent_of(run_dir) / (".latest.lenet5-link." + std::to_string(::getpid()));
  fs::remove(temporary, error);
  fs::create_directory_symlink(name_of(run_dir), temporary, error);
  if (!error) fs::rename(temporary, link, error);
  if (error) {
    const std::string reason = error.message();
    fs::remove(temporary, error);
    std::cerr << "lenet5: warning: " << link.string() << ": cannot point it at " << run_dir << " (" << reason << ")\n";
  }
}

bool is_latest_link_to(const std::string& run_dir) {
  const fs::path link = parent_of(run_dir) / "latest";
  std::error_code error;
  return fs::is_symlink(fs::symlink_status(link, error)) && fs::read_symlink(link, error) == name_of(run_dir);
}

}  // namespace lenet5::app
