// The folder a training process holds while it runs. Torch-free. Files in it are written through lenet5_files
// (whole or not at all).
#pragma once

#include <string>

#include "lenet5/run_files/file_names.h"

namespace lenet5::run_files {

// The run folder of one training process. Opening it creates the folder when missing, takes an exclusive lock
// on it (flock on the folder itself, held until destruction: a second process fails at once with one line naming
// the folder), then checks it: without `resume` it must hold none of run_file_names() (a folder left with only
// best.pt and metrics.jsonl after a full disk still holds a run), with `resume` it must hold checkpoint.pt.
// Then it proves the folder writable and removes the temporary files that dead lenet5 processes left in it.
// Destruction releases the lock and removes the folder if this object created it and it is still empty.
class RunFolder {
 public:
  // `dir` empty: a new folder <parent>/<YYYYmmdd-HHMMSS>-<label>[-N], created here.
  RunFolder(const std::string& dir, bool resume, const std::string& parent = "runs", const std::string& label = "run");
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const char* name) const;

 private:
  void create(const std::string& dir, const std::string& parent, const std::string& label);
  void lock();  // throws when another process holds the folder
  void check_contents(bool resume) const;
  void release();

  std::string path_;
  int lock_fd_ = -1;
  std::string created_top_;  // the highest folder of path_ created here ("" when it existed before)
};

}  // namespace lenet5::run_files
