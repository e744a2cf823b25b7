// The lenet5 command line run inside the test process (lenet5::app::run, what main calls), capturing what it
// prints: a process start costs a LibTorch load (over a second), this costs nothing. Exit-code wiring of the
// real executable stays with a few end-to-end cases (app_cli_test).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"

namespace lenet5::testing {

struct CliOutcome {
  int code = -1;
  std::string err, out;
  std::string output() const { return out + err; }  // both streams, as "2>&1" gives them
};

// Sends what is written to file descriptor `fd` (stdout or stderr: printf as well as std::cout) to a temporary
// file while it lives; text() gives what came.
class CapturedDescriptor {
 public:
  explicit CapturedDescriptor(int fd) : fd_(fd), file_(std::tmpfile()), saved_(::dup(fd)) {
    std::fflush(nullptr);
    ::dup2(::fileno(file_), fd_);
  }
  ~CapturedDescriptor() {
    restore();
    std::fclose(file_);
  }
  CapturedDescriptor(const CapturedDescriptor&) = delete;
  CapturedDescriptor& operator=(const CapturedDescriptor&) = delete;
  std::string text() {
    restore();
    std::string text;
    std::rewind(file_);
    for (int c = std::fgetc(file_); c != EOF; c = std::fgetc(file_)) text += static_cast<char>(c);
    return text;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(nullptr);
    ::dup2(saved_, fd_);
    ::close(saved_);
    saved_ = -1;
  }
  int fd_;
  std::FILE* file_;
  int saved_;
};

// Runs `lenet5 <arguments>`; `app` is one built by make_app() (tests add to it), or the default when null.
// Captures std::cout/std::cerr and what printf-style code writes to stdout/stderr (after the streams' text).
inline CliOutcome run_cli(const std::vector<std::string>& arguments, CLI::App* app = nullptr) {
  std::vector<const char*> argv = {"lenet5"};
  for (const auto& argument : arguments) argv.push_back(argument.c_str());
  std::ostringstream err, out;
  CapturedDescriptor stdout_file(STDOUT_FILENO), stderr_file(STDERR_FILENO);
  struct Redirect {  // restores the streams however run() ends
    std::ostream& stream;
    std::streambuf* old;
    ~Redirect() { stream.rdbuf(old); }
  } redirect_err{std::cerr, std::cerr.rdbuf(err.rdbuf())}, redirect_out{std::cout, std::cout.rdbuf(out.rdbuf())};
  CliOutcome outcome;
  const int argc = static_cast<int>(argv.size());
  outcome.code = app != nullptr ? lenet5::app::run(*app, argc, argv.data()) : lenet5::app::run(argc, argv.data());
  outcome.err = err.str() + stderr_file.text();
  outcome.out = out.str() + stdout_file.text();
  return outcome;
}

// The words of a command line written for /bin/sh: split at spaces, '...' quotes a word (no other quoting).
inline std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false;
  for (const char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      in_word = true;
    } else if (c == ' ' && !quoted) {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// `lenet5 <command line>` in this process, for tests written with command lines.
inline CliOutcome run_cli_line(const std::string& command_line) { return run_cli(shell_words(command_line)); }

}  // namespace lenet5::testing
