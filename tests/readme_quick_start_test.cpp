// The README's quick start typed verbatim: every script it names is there and executable (in the working
// tree and as committed), CI runs the test command exactly as printed, and the scripts share one build
// configuration so that running one never rebuilds what another built. Torch-free and fast.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "readme_blocks.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kSource = LENET5_SOURCE_DIR;

std::set<std::string> scripts_named_in_readme() {
  const std::string readme = lenet5::testing::read_text(kSource + "/README.md");
  const std::regex script(R"(scripts/[A-Za-z0-9_.-]+\.(sh|py))");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), script); it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// The commands of the quick start block, comments removed: "scripts/run.sh", "scripts/test.sh".
std::vector<std::string> quick_start_commands() {
  const auto blocks =
      lenet5::testing::fenced_blocks(lenet5::testing::read_text(kSource + "/README.md"), "sh", "## Quick start");
  std::vector<std::string> commands;
  if (blocks.empty()) return commands;
  std::istringstream lines(blocks.front());
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    line.erase(line.find_last_not_of(' ') + 1);
    if (!line.empty()) commands.push_back(line);
  }
  return commands;
}

TEST(ReadmeQuickStart, EveryScriptItNamesIsExecutable) {
  const auto names = scripts_named_in_readme();
  EXPECT_TRUE(names.count("scripts/run.sh") && names.count("scripts/test.sh"));
  const bool in_git = fs::exists(kSource + "/.git");
  for (const auto& name : names) {
    const fs::path path = kSource + "/" + name;
    if (path.extension() == ".py") continue;  // run through python3 by the scripts
    ASSERT_TRUE(fs::is_regular_file(path)) << name << " is named in README.md but missing";
    EXPECT_NE(fs::status(path).permissions() & fs::perms::owner_exec, fs::perms::none) << name << " is not executable";
    if (!in_git) continue;  // a source tarball: the working tree's mode is all there is
    const auto committed = lenet5::testing::run_shell("git -C '" + kSource + "' ls-files -s '" + name + "'");
    EXPECT_THAT(committed.output, ::testing::StartsWith("100755 "))
        << name << " is committed without the executable bit";
  }
}

TEST(ReadmeQuickStart, CiRunsTheTestCommandAsPrinted) {
  const auto commands = quick_start_commands();
  ASSERT_EQ(commands.size(), 2u) << "the quick start should be two commands";
  EXPECT_EQ(commands[0], "scripts/run.sh");
  EXPECT_EQ(commands[1], "scripts/test.sh");
  const std::string ci = lenet5::testing::read_text(kSource + "/.ci/run");
  EXPECT_TRUE(std::regex_search(ci, std::regex("\n(exec )?" + commands[1] + "\n"))) << ".ci/run:\n" << ci;
}

// setup.sh's configure_and_build holds the one configuration; the scripts pass it targets, never -D options,
// so no script reconfigures the shared build folder differently from another.
TEST(ReadmeQuickStart, ScriptsShareOneBuildConfiguration) {
  for (const char* script : {"run.sh", "test.sh", "bench.sh"}) {
    const std::string text = lenet5::testing::read_text(kSource + "/scripts/" + script);
    std::istringstream lines(text);
    std::string line;
    int calls = 0;
    while (std::getline(lines, line)) {
      if (line.rfind("configure_and_build", 0) != 0) continue;
      ++calls;
      EXPECT_THAT(line, ::testing::Not(HasSubstr("-D"))) << script << ": " << line;
    }
    EXPECT_EQ(calls, 1) << script;
  }
  const std::string setup = lenet5::testing::read_text(kSource + "/scripts/setup.sh");
  EXPECT_THAT(setup, HasSubstr("-DLENET5_BUILD_TESTS=ON"));
}

// One environment variable names the datasets, for the scripts and for lenet5.
TEST(ReadmeQuickStart, OneEnvironmentVariableNamesTheData) {
  for (const char* file : {"README.md", "scripts/setup.sh", "scripts/fetch_data.sh", "app/commands.h"}) {
    const std::string text = lenet5::testing::read_text(kSource + "/" + file);
    EXPECT_THAT(text, HasSubstr("LENET5_DATA_DIR")) << file;
    EXPECT_FALSE(std::regex_search(text, std::regex(R"(LENET5_DATA\b)"))) << file << " names LENET5_DATA";
  }
}

}  // namespace
