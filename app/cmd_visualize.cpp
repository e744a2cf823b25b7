#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "commands.h"
#include "lenet5/files/write.h"
#include "lenet5/model/lenet5.h"
#include "lenet5/report/diagram.h"
#include "report_observer.h"

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

struct VisualizeOptions {
  model::Variant variant = model::Variant::kModern;
  std::string out;
  bool png = false;
};

// The full path of `program` on $PATH, or "" when it is not there.
std::string find_program(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::string shell_quote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// The converter reads the SVG on stdin and writes the PNG on stdout: no file name ever reaches its command line
// (where "--zoom.svg" would be an option), and the PNG is written atomically like every other output.
void convert_to_png(const std::string& converter, const std::string& svg, const std::string& png) {
  const std::string command =
      shell_quote(converter) + " --zoom 2 --background-color white < " + shell_quote(fs::absolute(svg).string());
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error(png + ": cannot start rsvg-convert");
  std::string bytes;
  char buffer[1 << 16];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) bytes.append(buffer, n);
  if (::pclose(pipe) != 0 || bytes.empty()) throw std::runtime_error(png + ": rsvg-convert failed on " + svg);
  files::write_file_atomically(png, bytes);
}

void run_visualize(const VisualizeOptions& options) {
  const fs::path out(options.out);
  if (out.extension() != ".svg")
    throw std::invalid_argument("--out: expected a file name ending in .svg, got " + options.out);
  std::string converter;
  if (options.png) {
    converter = find_program("rsvg-convert");
    if (converter.empty()) {
      throw std::runtime_error("--png: rsvg-convert is not installed (Debian/Ubuntu: apt-get install librsvg2-bin)");
    }
  }
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  const std::string variant = model::variant_name(options.variant);

  std::vector<std::pair<std::string, std::string>> figures = {
      {out.string(), report::architecture_svg(diagram_layers(variant), variant)}};
  if (options.variant == model::Variant::kClassic) {
    fs::path c3 = out;
    c3.replace_filename(out.stem().string() + "-c3.svg");
    figures.emplace_back(c3.string(), report::c3_table_svg(model::c3_connection_table()));
  }
  for (const auto& [path, svg] : figures) {
    files::write_file_atomically(path, svg);
    std::cout << "wrote " << path << "\n";
    if (options.png) {
      const std::string png = fs::path(path).replace_extension(".png").string();
      convert_to_png(converter, path, png);
      std::cout << "wrote " << png << "\n";
    }
  }
}

}  // namespace

void setup_visualize(CLI::App& app) {
  auto options = std::make_shared<VisualizeOptions>();
  auto* sub = app.add_subcommand("visualize", "Draw the architecture as SVG (classic: also the C3 connection table)");
  add_variant_option(*sub, options->variant);
  sub->add_option("--out", options->out, "SVG file to write (classic also writes <name>-c3.svg next to it)")
      ->required();
  sub->add_flag("--png", options->png, "Also write PNG copies (needs rsvg-convert, Debian package librsvg2-bin)");
  sub->callback([options] { run_visualize(*options); });
}

}  // namespace lenet5::app
