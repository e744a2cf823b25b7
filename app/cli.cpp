#include "cli.h"

#include <c10/util/Exception.h>

#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "lenet5/text/printable.h"
#include "lenet5/version.h"

namespace lenet5::app {
namespace {

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  return names;
}

std::vector<std::string> flag_names(const CLI::App& sub) {
  std::vector<std::string> names;
  for (const auto* option : sub.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
  }
  return names;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string hint = closest_match(word, candidates);
  return hint.empty() ? "" : "; did you mean '" + hint + "'?";
}

std::string describe_unknown(const CLI::App& command, const std::string& word) {
  const bool top = command.get_parent() == nullptr;
  const std::string name = top ? "lenet5" : "lenet5 " + command.get_name();
  if (word.rfind('-', 0) != 0) {
    if (!top) return "unexpected argument '" + word + "' for " + name;
    return "unknown subcommand '" + word + "'" + did_you_mean(word, subcommand_names(command)) +
           " (lenet5 --help lists them)";
  }
  std::string message = "unknown flag '" + word + "'" + (top ? "" : " for " + name) +
                        did_you_mean(word.substr(0, word.find('=')), flag_names(command));
  const bool takes_files = !command.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
  if (takes_files && word.rfind("--", 0) != 0) {
    message += "; a file whose name starts with '-' goes after '--' (" + name + " ... -- " + word + ") or as ./" + word;
  }
  return message;
}

// The first argument that no subcommand or flag took, described with the closest valid word. CLI11 keeps
// such arguments aside and reports them only after other errors ("--data is required"), which hides a typo.
std::optional<std::string> unknown_argument(const CLI::App& app) {
  const auto subcommands = app.get_subcommands();
  const CLI::App& command = subcommands.empty() ? app : *subcommands.front();
  for (const auto& rest : {command.remaining(false), app.remaining(false)}) {
    if (!rest.empty()) return describe_unknown(command, rest.front());
  }
  return std::nullopt;
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& error) {
  if (auto unknown = unknown_argument(app)) return *unknown;
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr && app.get_subcommands().empty()) {
    std::string names;
    for (const auto& name : subcommand_names(app)) names += (names.empty() ? "" : ", ") + name;
    return "a subcommand is required: " + names + " (lenet5 --help describes them)";
  }
  return text::first_line(error.what());
}

int report(const std::string& message, int code) {
  std::cerr << "lenet5: error: " << text::printable(text::first_line(message)) << "\n";
  return code;
}

}  // namespace

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>("lenet5: train, export and serve LeNet-5 (LeCun et al., 1998) with LibTorch");
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("lenet5 ") + kVersion);
  setup_summary(*app);
  setup_train(*app);
  setup_eval(*app);
  setup_export(*app);
  setup_predict(*app);
  setup_bench(*app);
  setup_visualize(*app);
  setup_report(*app);
  setup_serve(*app);
  return app;
}

int run(int argc, const char* const* argv) {
  auto app = make_app();
  return run(*app, argc, argv);
}

int run(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return report(usage_message(app, e), 2);
  } catch (const std::invalid_argument& e) {  // a flag value the libraries rejected
    return report(e.what(), 2);
  } catch (const c10::Error& e) {  // LibTorch's message without its C++ backtrace
    return report(e.what_without_backtrace(), 1);
  } catch (const std::exception& e) {
    return report(e.what(), 1);
  }
  return 0;
}

}  // namespace lenet5::app
