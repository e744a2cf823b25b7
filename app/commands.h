// Each subcommand: setup_x registers its flags into an options struct and a callback that runs it.
#pragma once

#include <CLI/CLI.hpp>

namespace lenet5::app {

// Thrown by commands for runtime failures after parsing; main prints it and exits with 1.
void setup_summary(CLI::App& app);
void setup_train(CLI::App& app);
void setup_eval(CLI::App& app);

}  // namespace lenet5::app
