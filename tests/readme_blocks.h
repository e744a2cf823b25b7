// Reading README.md in tests: the README is a contract typed verbatim, so tests take its commands and
// snippets from the file itself, never from a copy.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lenet5::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The fenced ```<language> blocks of `markdown`, each without its fences, in order. With `after_heading`,
// only the blocks between that heading line and the next heading of any level.
inline std::vector<std::string> fenced_blocks(const std::string& markdown, const std::string& language,
                                              const std::string& after_heading = "") {
  std::vector<std::string> blocks;
  std::istringstream lines(markdown);
  std::string line, block;
  bool in_section = after_heading.empty(), in_block = false, wanted = false;
  while (std::getline(lines, line)) {
    if (!in_block && line.rfind("#", 0) == 0) {
      if (!after_heading.empty()) in_section = line == after_heading;
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      if (in_block) {
        if (wanted) blocks.push_back(block);
        in_block = false;
      } else {
        in_block = true;
        wanted = in_section && line.substr(3) == language;
        block.clear();
      }
      continue;
    }
    if (in_block) block += line + "\n";
  }
  return blocks;
}

}  // namespace lenet5::testing
