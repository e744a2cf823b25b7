// The lenet5 command line as a library: main() is run(argc, argv), and tests call the same in-process.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>

namespace lenet5::app {

// Every subcommand with its flags and the callback that runs it.
std::unique_ptr<CLI::App> make_app();

// Parses and runs one command line. Owns the error contract (README, "The CLI"): returns 0 on success, 2 for
// a usage error (a bad flag or value, an unknown subcommand), 1 for a runtime error (a malformed file, a
// missing device...), and writes every error to std::cerr as one line, "lenet5: error: ...".
int run(int argc, const char* const* argv);
// The same for an app built by make_app (tests add to it).
int run(CLI::App& app, int argc, const char* const* argv);

}  // namespace lenet5::app
