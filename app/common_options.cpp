#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sstream>
#include <utility>

#include "commands.h"

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

// 1234567 -> "1,234,567"; other numbers as the shortest text that reads back (0.999, 3e-05).
std::string readable(long double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e19L) {
    std::string digits = std::to_string(static_cast<unsigned long long>(std::fabs(value)));
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
    return (value < 0 ? "-" : "") + digits;
  }
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string shortened(const std::string& text) { return text.size() <= 40 ? text : text.substr(0, 37) + "..."; }

// Levenshtein distance where swapping two neighbours ("trian") counts as one edit.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return text;
}

// "cuda:N": N must fit the device index type of this LibTorch.
std::string check_device(const std::string& value) {
  static const std::vector<std::string> kinds = {"auto", "cpu", "cuda"};
  const auto colon = value.find(':');
  const std::string kind = value.substr(0, colon);
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    const std::string hint = closest_match(kind, kinds);
    return "unknown device '" + shortened(value) + "'; expected auto, cpu, cuda or cuda:N" +
           (hint.empty() ? "" : " (did you mean '" + hint + "'?)");
  }
  if (colon == std::string::npos) return "";
  const std::string index = value.substr(colon + 1);
  const auto max_index = static_cast<int64_t>(std::numeric_limits<c10::DeviceIndex>::max());
  if (kind != "cuda" || index.empty() || index.find_first_not_of("0123456789") != std::string::npos) {
    return "malformed device '" + shortened(value) + "'; expected cuda:N with N a GPU number from 0 to " +
           readable(static_cast<long double>(max_index));
  }
  if (index.size() > 6 || std::stoll(index) > max_index) {
    return "GPU number " + shortened(index) + " is out of range; expected cuda:0 to cuda:" + std::to_string(max_index);
  }
  return "";
}

bool is_exported_model(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return false;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    return reader.hasRecord("extra/metadata.json");
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

// Parsed as long double: every int64 bound and value is exact in its 64-bit mantissa (x86-64).
CLI::Validator number_in(long double min, long double max, bool whole, bool above_min) {
  const std::string bounds =
      (above_min ? "above " + readable(min) + " and at most " : "from " + readable(min) + " to ") + readable(max);
  const std::string expected = std::string(whole ? "a whole number " : "a number ") + bounds;
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        const long double value = std::strtold(begin, &end);
        if (text.empty() || end != begin + text.size()) return "'" + shortened(text) + "' is not " + expected;
        if (!std::isfinite(value) || errno == ERANGE) return shortened(text) + " is not finite; expected " + expected;
        if (whole && (std::floor(value) != value || text.find_first_of(".eExXpP") != std::string::npos)) {
          return shortened(text) + " is not " + expected;
        }
        if (value < min || value > max || (above_min && value == min)) {
          return shortened(text) + " is out of range; expected " + expected;
        }
        return "";
      },
      whole ? "INT in [" + readable(min) + ", " + readable(max) + "]" : "NUMBER", "number");
}

CLI::Validator one_of(std::vector<std::string> names) {
  return CLI::Validator(
      [names](std::string& text) -> std::string {
        if (std::find(names.begin(), names.end(), text) != names.end()) return "";
        const std::string hint = closest_match(text, names);
        return "unknown value '" + shortened(text) + "'; expected " + join_names(names) +
               (hint.empty() ? "" : " (did you mean '" + hint + "'?)");
      },
      "", "one of");
}

void add_variant_option(CLI::App& sub, model::Variant& variant, const std::string& description) {
  add_enum_option(sub, "--variant", variant, model::variant_names(), description);
}

void add_device_option(CLI::App& sub, std::string& device) {
  sub.add_option("--device", device, "auto (CUDA when available, else CPU), cpu, cuda or cuda:N")
      ->check(CLI::Validator([](std::string& value) { return check_device(value); }, "DEVICE", "device"))
      ->capture_default_str();
}

void add_data_option(CLI::App& sub, std::string& data_dir) {
  sub.add_option("--data", data_dir,
                 std::string("Dataset folder with the four IDX files, raw or .gz (default: $") +
                     kDataEnvironmentVariable + "/<dataset>)")
      ->check(CLI::ExistingDirectory);
}

void require_data_source(const std::string& data_flag) {
  const char* root = std::getenv(kDataEnvironmentVariable);
  if (data_flag.empty() && (root == nullptr || *root == '\0')) {
    throw CLI::RequiredError(std::string("--data is required (or set ") + kDataEnvironmentVariable +
                                 " to the folder holding mnist/ and fashion-mnist/)",
                             CLI::ExitCodes::RequiredError);
  }
}

std::string resolve_data_dir(const std::string& data_flag, data::DatasetKind kind) {
  require_data_source(data_flag);
  if (!data_flag.empty()) return data_flag;
  const std::string dataset = data::dataset_kind_name(kind);
  const char* root = std::getenv(kDataEnvironmentVariable);
  std::string folder = (fs::path(root) / dataset).string();
  const std::string problem = CLI::ExistingDirectory(folder);
  if (!problem.empty()) {
    throw CLI::ValidationError(std::string("--data (default $") + kDataEnvironmentVariable + "/" + dataset + ")",
                               problem);
  }
  return folder;
}

engine::LoadedCheckpoint load_checkpoint_flag(const std::string& path, const std::string& instead) {
  try {
    return engine::load_checkpoint(path);
  } catch (const engine::CheckpointError&) {
    if (!is_exported_model(path)) throw;
    throw engine::CheckpointError(path +
                                  ": is an exported TorchScript model (lenet5 export), not a training "
                                  "checkpoint; " +
                                  instead);
  }
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) best = candidate, best_distance = distance;
  }
  const size_t allowed = std::max<size_t>(1, std::min(word.size(), best.size()) / 3);
  return best_distance <= allowed ? best : "";
}

}  // namespace lenet5::app
