// Each subcommand: setup_x registers its flags into an options struct and a callback that runs it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace lenet5::app {

void setup_summary(CLI::App& app);
void setup_train(CLI::App& app);
void setup_eval(CLI::App& app);
void setup_export(CLI::App& app);
void setup_predict(CLI::App& app);
void setup_bench(CLI::App& app);
void setup_visualize(CLI::App& app);
void setup_report(CLI::App& app);

// Flags several commands share.
void add_data_option(CLI::App& sub, std::string& data_dir);
void add_device_option(CLI::App& sub, std::string& device);

}  // namespace lenet5::app
