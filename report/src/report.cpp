#include "lenet5/report/report.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "lenet5/data/idx.h"
#include "lenet5/engine/run_files.h"
#include "lenet5/files/read.h"
#include "lenet5/files/write.h"
#include "lenet5/report/chart.h"
#include "text.h"

namespace lenet5::report {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using text::escape;
namespace run_file = engine::run_file;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kTrainColour = "#4e79a7";
constexpr const char* kTestColour = "#e15759";
constexpr const char* kValColour = "#59a14f";

struct Epoch {
  int64_t epoch = 0;
  double train_loss = kNaN, train_accuracy = kNaN;
  double test_loss = kNaN, test_accuracy = kNaN;
  double val_loss = kNaN, val_accuracy = kNaN;
  double lr = kNaN, seconds = kNaN, images_per_second = kNaN;
};

struct Mistake {
  int64_t index = 0, label = 0, predicted = 0;
  double confidence = kNaN;
};

struct Evaluation {
  int64_t n = 0;
  double accuracy = kNaN, loss = kNaN;
  std::vector<double> per_class_accuracy;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::vector<Mistake> mistakes;
};

struct Run {
  std::string dir;
  json config = json::object();
  bool has_config = false;
  bool has_metrics = false;
  std::vector<Epoch> epochs;
  std::optional<Evaluation> evaluation;
};

// Once, and only a regular file (a FIFO named metrics.jsonl is refused, not waited on).
std::string slurp(const std::string& path) { return files::read_input(path, files::InputKind::kRunFile); }

// The file's JSON object, or nothing when the file does not exist.
std::optional<json> read_json_object(const std::string& path) {
  if (!files::exists(path)) return std::nullopt;
  json value;
  try {
    value = json::parse(slurp(path));
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": malformed JSON: " + e.what());
  }
  if (!value.is_object()) throw std::runtime_error(path + ": malformed: expected a JSON object");
  return value;
}

// Bounds on what a run's files may hold: far above any real run, low enough that nothing drawn from them
// (an axis from epoch 1 to N, a K x K table) can exhaust memory.
constexpr double kMaxEpoch = 1e6;
constexpr double kMaxImages = 1e9;
constexpr size_t kMaxMistakes = 1000;

// Checks the fields of one JSON object; errors are one line naming the file (and line) and the field.
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  // The field's value in [lo, hi] (a whole number when `whole`); NaN when the field is absent or null.
  double number(const std::string& key, double lo, double hi, bool whole = false) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return kNaN;
    return checked(*it, key, lo, hi, whole);
  }
  double checked(const json& value, const std::string& key, double lo, double hi, bool whole) const {
    if (!value.is_number()) fail(key, "is " + std::string(value.type_name()) + ", expected a number");
    const double v = value.get<double>();
    const bool in_range = std::isfinite(v) && v >= lo && v <= hi && (!whole || v == std::floor(v));
    if (!in_range) fail(key, "is " + value.dump() + ", expected " + expectation(lo, hi, whole));
    return v;
  }
  static std::string expectation(double lo, double hi, bool whole) {
    const std::string kind = whole ? "a whole number" : "a number";
    const bool bounded_below = lo > -std::numeric_limits<double>::max();
    const bool bounded_above = hi < std::numeric_limits<double>::max();
    if (bounded_below && bounded_above) return kind + " in [" + text::number(lo, 6) + ", " + text::number(hi, 6) + "]";
    if (bounded_below) return kind + " >= " + text::number(lo, 6);
    return whole ? "a whole number" : "a finite number";
  }
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw std::runtime_error(where_ + ": field '" + key + "' " + problem);
  }

 private:
  const json& object_;
  std::string where_;
};

Epoch parse_epoch(const json& m, const std::string& where, int64_t position) {
  const Fields fields(m, where);
  constexpr double kMax = std::numeric_limits<double>::max();
  Epoch e;
  const double epoch = fields.number("epoch", 1, kMaxEpoch, /*whole=*/true);
  e.epoch = std::isfinite(epoch) ? static_cast<int64_t>(epoch) : position;
  e.train_loss = fields.number("train_loss", -kMax, kMax);
  e.train_accuracy = fields.number("train_accuracy", 0, 1);
  e.test_loss = fields.number("test_loss", -kMax, kMax);
  e.test_accuracy = fields.number("test_accuracy", 0, 1);
  e.val_loss = fields.number("val_loss", -kMax, kMax);
  e.val_accuracy = fields.number("val_accuracy", 0, 1);
  e.lr = fields.number("lr", 0, kMax);
  e.seconds = fields.number("seconds", 0, kMax);
  e.images_per_second = fields.number("images_per_second", 0, kMax);
  return e;
}

std::vector<Epoch> read_metrics(const std::string& path) {
  std::vector<Epoch> epochs;
  std::istringstream in(slurp(path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    json m;
    try {
      m = json::parse(line);
    } catch (const json::exception& e) {
      throw std::runtime_error(where + ": malformed JSON: " + e.what());
    }
    if (!m.is_object()) throw std::runtime_error(where + ": malformed: expected a JSON object");
    epochs.push_back(parse_epoch(m, where, static_cast<int64_t>(epochs.size()) + 1));
  }
  return epochs;
}

// evaluation.json: counts, fractions and class indices within range, tables of `classes` rows and columns.
Evaluation parse_evaluation(const json& j, const std::string& path, size_t classes) {
  const Fields fields(j, path);
  const double top_class = static_cast<double>(classes) - 1;
  Evaluation e;
  const double n = fields.number("n", 0, kMaxImages, /*whole=*/true);
  e.n = std::isfinite(n) ? static_cast<int64_t>(n) : 0;
  e.accuracy = fields.number("accuracy", 0, 1);
  e.loss = fields.number("loss", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
  auto array_of = [&](const char* key, size_t expected_size) -> const json* {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    if (!it->is_array()) fields.fail(key, "is " + std::string(it->type_name()) + ", expected an array");
    if (expected_size > 0 && it->size() != expected_size) {
      fields.fail(key, "has " + std::to_string(it->size()) + " entries, expected " + std::to_string(expected_size) +
                           " (one per class)");
    }
    return &*it;
  };
  if (const json* accuracies = array_of("per_class_accuracy", classes)) {
    for (const auto& value : *accuracies) e.per_class_accuracy.push_back(fields.checked(value, "per_class_accuracy", 0, 1, false));
  }
  if (const json* rows = array_of("confusion", classes)) {
    for (const auto& row : *rows) {
      if (!row.is_array() || row.size() != classes) {
        fields.fail("confusion", "is not a " + std::to_string(classes) + "x" + std::to_string(classes) + " matrix");
      }
      auto& counts = e.confusion.emplace_back();
      for (const auto& count : row) counts.push_back(static_cast<int64_t>(fields.checked(count, "confusion", 0, kMaxImages, true)));
    }
  }
  if (const json* mistakes = array_of("worst_mistakes", 0)) {
    if (mistakes->size() > kMaxMistakes) {
      fields.fail("worst_mistakes", "has " + std::to_string(mistakes->size()) + " entries, at most " +
                                        std::to_string(kMaxMistakes));
    }
    for (const auto& m : *mistakes) {
      if (!m.is_object()) fields.fail("worst_mistakes", "holds " + std::string(m.type_name()) + ", expected objects");
      const Fields mistake(m, path + ": worst_mistakes");
      auto required = [&](const char* key, double hi) {
        const double v = mistake.number(key, 0, hi, /*whole=*/true);
        if (!std::isfinite(v)) mistake.fail(key, "is missing");
        return static_cast<int64_t>(v);
      };
      e.mistakes.push_back({required("index", kMaxImages), required("label", top_class), required("predicted", top_class),
                            mistake.number("confidence", 0, 1)});
    }
  }
  return e;
}

std::string config_string(const Run& run, const char* key) {
  const auto it = run.config.find(key);
  if (it == run.config.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::vector<std::string> class_names(const std::string& dataset) {
  if (dataset == "fashion-mnist") {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  }
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

Run load_run(const std::string& dir) {
  Run run;
  run.dir = dir;
  const fs::path root(dir);
  if (auto config = read_json_object((root / run_file::kConfig).string())) {
    run.config = *config;
    run.has_config = true;
  }
  const std::string metrics = (root / run_file::kMetrics).string();
  if (files::exists(metrics)) {
    run.has_metrics = true;
    run.epochs = read_metrics(metrics);
  }
  const std::string evaluation = (root / run_file::kEvaluation).string();
  const size_t classes = class_names(config_string(run, "dataset")).size();
  if (auto j = read_json_object(evaluation)) run.evaluation = parse_evaluation(*j, evaluation, classes);
  return run;
}

std::string class_name(const std::vector<std::string>& names, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(index)]
                                                                   : std::to_string(index);
}

std::string percent(double fraction, int decimals = 2) {
  return std::isfinite(fraction) ? text::fixed(fraction * 100, decimals) + "%" : "n/a";
}

std::string folder_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string().empty() ? dir : p.filename().string();
}

std::string now_text() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S %Z", &local);
  return stamp;
}

const char* kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef0f4; color: #1f2430; font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 40px; }
header h1 { margin: 0 0 2px; font-size: 26px; }
header p { margin: 0; color: #5b6272; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 10px; padding: 16px 20px 18px; margin-top: 18px;
  box-shadow: 0 1px 2px rgba(20, 30, 50, 0.05); }
h2 { margin: 0 0 12px; font-size: 18px; }
h2 small { font-weight: normal; color: #6b7280; font-size: 13px; margin-left: 6px; }
.note { color: #8a5a00; background: #fff7e6; border: 1px solid #f3dcae; border-radius: 6px; padding: 8px 12px; margin: 6px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 12px; }
.card { background: #f7f8fb; border: 1px solid #e3e6ec; border-radius: 8px; padding: 10px 12px; }
.card .label { color: #6b7280; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.card .value { font-size: 21px; font-weight: bold; margin-top: 2px; }
.card .detail { color: #6b7280; font-size: 12px; }
.card.accent { background: #eaf2fb; border-color: #c8dbf0; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; text-align: left; border-bottom: 1px solid #eceef2; }
th { color: #4b5263; font-weight: 600; background: #f7f8fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv td:first-child { color: #4b5263; font-weight: 600; white-space: nowrap; }
table.kv td { font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; word-break: break-all; }
table.confusion { font-variant-numeric: tabular-nums; }
table.confusion th, table.confusion td { text-align: center; min-width: 44px; border: 1px solid #fff; padding: 5px 6px; }
table.confusion td.acc { background: #f7f8fb; color: #333; }
.axis { color: #6b7280; font-size: 12px; }
.mistakes { display: flex; flex-wrap: wrap; gap: 10px; }
.mistake { width: 122px; border: 1px solid #e3e6ec; border-radius: 8px; padding: 6px; text-align: center; background: #fafbfc; }
.mistake img, .mistake .missing { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #d8dbe2;
  background: #fff; display: block; margin: 0 auto 4px; }
.mistake .missing { line-height: 84px; color: #aaa; font-size: 28px; }
.mistake .labels { font-size: 13px; }
.mistake .wrong { color: #c0392b; font-weight: bold; }
.mistake .meta { color: #6b7280; font-size: 11px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 18px; align-items: start; }
footer { margin-top: 18px; color: #7b8190; font-size: 12px; text-align: center; }
)css";

class Page {
 public:
  explicit Page(const ReportInputs& inputs) : inputs_(inputs), run_(load_run(inputs.run_dir)) {
    dataset_ = config_string(run_, "dataset");
    names_ = class_names(dataset_);
  }

  std::string render() {
    const std::string name = folder_name(run_.dir);
    html_ << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
          << "<title>LeNet-5 report: " << escape(name) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
    html_ << "<header><h1>LeNet-5 training report</h1><p>" << escape(name) << " \xC2\xB7 " << escape(run_.dir)
          << "</p></header>\n";
    summary();
    curves();
    confusion();
    mistakes();
    architecture();
    timings();
    html_ << "<div class=\"pair\">\n";
    config();
    environment();
    html_ << "</div>\n";
    html_ << "<footer>Generated by lenet5 report on " << escape(now_text()) << ". Self-contained: no scripts, no network.</footer>\n";
    html_ << "</main>\n</body>\n</html>\n";
    return html_.str();
  }

 private:
  void note(const std::string& message) { html_ << "<p class=\"note\">" << escape(message) << "</p>\n"; }

  void card(const std::string& label, const std::string& value, const std::string& detail = "", bool accent = false) {
    html_ << "<div class=\"card" << (accent ? " accent" : "") << "\"><div class=\"label\">" << escape(label)
          << "</div><div class=\"value\">" << escape(value) << "</div>";
    if (!detail.empty()) html_ << "<div class=\"detail\">" << escape(detail) << "</div>";
    html_ << "</div>\n";
  }

  bool has_val() const {
    return std::any_of(run_.epochs.begin(), run_.epochs.end(), [](const Epoch& e) { return std::isfinite(e.val_accuracy); });
  }

  void summary() {
    html_ << "<section id=\"summary\">\n<h2>Summary</h2>\n";
    if (!run_.has_config && !run_.has_metrics) note("No config.json or metrics.jsonl in this folder yet.");
    html_ << "<div class=\"cards\">\n";
    const std::string variant = config_string(run_, "variant");
    card("Variant", variant.empty() ? "n/a" : variant);
    card("Dataset", dataset_.empty() ? "n/a" : dataset_);

    const Epoch* best = nullptr;
    double total_seconds = 0, throughput = 0;
    int throughput_count = 0;
    for (const auto& e : run_.epochs) {
      if (std::isfinite(e.test_accuracy) && (best == nullptr || e.test_accuracy > best->test_accuracy)) best = &e;
      if (std::isfinite(e.seconds)) total_seconds += e.seconds;
      if (std::isfinite(e.images_per_second)) {
        throughput += e.images_per_second;
        ++throughput_count;
      }
    }
    if (best != nullptr) {
      card("Best test accuracy", percent(best->test_accuracy),
           "epoch " + std::to_string(best->epoch) + ", error " + percent(1 - best->test_accuracy), true);
    } else {
      card("Best test accuracy", "n/a", "no epoch finished yet", true);
    }
    if (!run_.epochs.empty()) {
      const Epoch& last = run_.epochs.back();
      card("Final test accuracy", percent(last.test_accuracy), "test loss " + text::number(last.test_loss, 4));
    }
    const std::string planned = config_string(run_, "epochs");
    const std::string done = std::to_string(run_.epochs.size());
    card("Epochs", planned.empty() || planned == done ? done : done + " / " + planned,
         planned.empty() || planned == done ? "" : "run in progress or stopped early");
    card("Training time", run_.epochs.empty() ? "n/a" : text::duration(total_seconds), "sum over epochs");
    card("Throughput", throughput_count == 0 ? "n/a" : text::with_commas(std::llround(throughput / throughput_count)) + " img/s",
         "training, mean over epochs");
    int64_t parameters = 0;
    for (const auto& layer : inputs_.layers) parameters += layer.trainable_parameters;
    if (parameters > 0) card("Parameters", text::with_commas(parameters), "trainable");
    html_ << "</div>\n</section>\n";
  }

  void curves() {
    std::vector<double> x;
    for (const auto& e : run_.epochs) x.push_back(static_cast<double>(e.epoch));
    auto column = [&](double Epoch::*field, double scale) {
      std::vector<double> y;
      for (const auto& e : run_.epochs) y.push_back(e.*field * scale);
      return y;
    };
    const bool val = has_val();
    const std::string empty = "No epoch finished yet";

    std::vector<ChartSeries> loss = {{"train", kTrainColour, false, x, column(&Epoch::train_loss, 1)},
                                     {"test", kTestColour, false, x, column(&Epoch::test_loss, 1)}};
    if (val) loss.push_back({"validation", kValColour, true, x, column(&Epoch::val_loss, 1)});
    ChartOptions loss_options;
    loss_options.width = 530;
    loss_options.title = "Loss";
    loss_options.x_label = "epoch";
    loss_options.y_label = "mean loss";
    loss_options.y_from_zero = true;
    double lowest = kNaN, highest = kNaN;
    for (const auto& s : loss) {
      for (double y : s.y) {
        if (!std::isfinite(y)) continue;
        lowest = std::isnan(lowest) ? y : std::min(lowest, y);
        highest = std::isnan(highest) ? y : std::max(highest, y);
      }
    }
    if (lowest > 0 && highest / lowest > 20) {  // e.g. the classic criterion's first epoch
      loss_options.log_y = true;
      loss_options.y_label = "mean loss (log scale)";
    }
    loss_options.empty_message = empty;

    std::vector<ChartSeries> accuracy = {{"train", kTrainColour, false, x, column(&Epoch::train_accuracy, 100)},
                                         {"test", kTestColour, false, x, column(&Epoch::test_accuracy, 100)}};
    if (val) accuracy.push_back({"validation", kValColour, true, x, column(&Epoch::val_accuracy, 100)});
    ChartOptions accuracy_options;
    accuracy_options.width = 530;
    accuracy_options.title = "Accuracy";
    accuracy_options.x_label = "epoch";
    accuracy_options.y_label = "accuracy (%)";
    accuracy_options.y_max_cap = 100;
    accuracy_options.y_suffix = "%";
    accuracy_options.empty_message = empty;

    html_ << "<section id=\"curves\">\n<h2>Learning curves</h2>\n<div class=\"row\">\n";
    html_ << "<figure id=\"loss-curves\">\n" << line_chart_svg(loss, loss_options) << "</figure>\n";
    html_ << "<figure id=\"accuracy-curves\">\n" << line_chart_svg(accuracy, accuracy_options) << "</figure>\n";
    html_ << "</div>\n</section>\n";
  }

  void confusion() {
    html_ << "<section id=\"confusion\">\n<h2>Confusion matrix";
    if (!run_.evaluation || run_.evaluation->confusion.empty()) {
      html_ << "</h2>\n";
      note("evaluation.json is not written yet: it appears after the first epoch.");
      html_ << "</section>\n";
      return;
    }
    const Evaluation& ev = *run_.evaluation;
    html_ << "<small>test set, latest epoch: " << text::with_commas(ev.n) << " images, accuracy " << percent(ev.accuracy)
          << "</small></h2>\n";
    const size_t k = ev.confusion.size();
    int64_t worst_off_diagonal = 1;
    for (size_t t = 0; t < k; ++t) {
      for (size_t p = 0; p < k; ++p) {
        if (t != p) worst_off_diagonal = std::max(worst_off_diagonal, ev.confusion[t][p]);
      }
    }
    html_ << "<div class=\"row\"><table class=\"confusion\">\n<tr><th class=\"axis\">true \xE2\x86\x93 / predicted \xE2\x86\x92</th>";
    for (size_t p = 0; p < k; ++p) html_ << "<th>" << escape(class_name(names_, static_cast<int64_t>(p))) << "</th>";
    html_ << "<th>accuracy</th></tr>\n";
    for (size_t t = 0; t < k; ++t) {
      int64_t row_total = 0;
      for (auto c : ev.confusion[t]) row_total += c;
      html_ << "<tr><th>" << escape(class_name(names_, static_cast<int64_t>(t))) << "</th>";
      for (size_t p = 0; p < k; ++p) {
        const int64_t count = ev.confusion[t][p];
        double alpha;
        std::string rgb;
        if (t == p) {  // blue by the share of the class classified right
          alpha = row_total > 0 ? 0.15 + 0.85 * static_cast<double>(count) / static_cast<double>(row_total) : 0;
          rgb = "44, 106, 170";
        } else {  // red by the count relative to the largest confusion, so rare errors still show
          alpha = count > 0 ? 0.1 + 0.8 * std::sqrt(static_cast<double>(count) / static_cast<double>(worst_off_diagonal)) : 0;
          rgb = "214, 69, 65";
        }
        const char* ink = alpha > 0.55 ? "#fff" : (count == 0 ? "#c4c8d0" : "#222");
        html_ << "<td style=\"background: rgba(" << rgb << ", " << text::fixed(alpha, 3) << "); color: " << ink
              << "\" title=\"true " << escape(class_name(names_, static_cast<int64_t>(t))) << ", predicted "
              << escape(class_name(names_, static_cast<int64_t>(p))) << ": " << count << "\">" << count << "</td>";
      }
      const double accuracy = t < ev.per_class_accuracy.size() ? ev.per_class_accuracy[t]
                              : row_total > 0 ? static_cast<double>(ev.confusion[t][t]) / static_cast<double>(row_total)
                                              : kNaN;
      html_ << "<td class=\"acc\">" << percent(accuracy, 1) << "</td></tr>\n";
    }
    html_ << "</table>\n";
    struct Pair {
      int64_t count;
      size_t truth, predicted;
    };
    std::vector<Pair> pairs;
    for (size_t t = 0; t < k; ++t) {
      for (size_t p = 0; p < k; ++p) {
        if (t != p && ev.confusion[t][p] > 0) pairs.push_back({ev.confusion[t][p], t, p});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.count > b.count; });
    if (!pairs.empty()) {
      html_ << "<table>\n<tr><th>Most frequent confusions</th><th class=\"num\">images</th></tr>\n";
      for (size_t i = 0; i < pairs.size() && i < 8; ++i) {
        html_ << "<tr><td>true " << escape(class_name(names_, static_cast<int64_t>(pairs[i].truth))) << " \xE2\x86\x92 predicted "
              << escape(class_name(names_, static_cast<int64_t>(pairs[i].predicted))) << "</td><td class=\"num\">"
              << pairs[i].count << "</td></tr>\n";
      }
      html_ << "</table>\n";
    }
    html_ << "</div>\n</section>\n";
  }

  // The test images as {count, rows, columns} bytes, or an explanation why there are none.
  std::optional<data::IdxArray> test_images(std::string& problem) const {
    std::vector<std::string> candidates;
    if (!inputs_.test_images.empty()) {
      candidates.push_back(inputs_.test_images);
    } else {
      const std::string dir = config_string(run_, "data_dir");
      if (dir.empty()) {
        problem = "config.json names no data_dir, so the digits cannot be shown.";
        return std::nullopt;
      }
      candidates = {(fs::path(dir) / "t10k-images-idx3-ubyte").string(), (fs::path(dir) / "t10k-images-idx3-ubyte.gz").string()};
    }
    for (const auto& path : candidates) {
      if (!files::exists(path)) continue;
      try {
        auto images = data::read_idx_file(path, data::IdxKind::kImages);
        if (images.dims.size() == 3) return images;
        problem = path + ": not a 3-dimensional image file";
      } catch (const std::exception& e) {
        problem = e.what();
      }
      return std::nullopt;
    }
    problem = "test images not found at " + candidates.front() + ", so the digits cannot be shown.";
    return std::nullopt;
  }

  void mistakes() {
    html_ << "<section id=\"mistakes\">\n<h2>Most confident mistakes";
    if (!run_.evaluation || run_.evaluation->mistakes.empty()) {
      html_ << "</h2>\n";
      note(run_.evaluation ? "evaluation.json lists no mistakes." : "evaluation.json is not written yet: it appears after the first epoch.");
      html_ << "</section>\n";
      return;
    }
    const auto& list = run_.evaluation->mistakes;
    html_ << "<small>test images the network got wrong with the highest confidence, most confident first</small></h2>\n";
    std::string problem;
    const auto images = test_images(problem);
    if (!images) note(problem);
    html_ << "<div class=\"mistakes\">\n";
    for (const auto& m : list) {
      html_ << "<figure class=\"mistake\">";
      const bool drawable = images && m.index >= 0 && static_cast<size_t>(m.index) < images->count();
      if (drawable) {
        const int rows = static_cast<int>(images->dims[1]), columns = static_cast<int>(images->dims[2]);
        const std::uint8_t* pixels = images->values.data() + static_cast<size_t>(m.index) * static_cast<size_t>(rows * columns);
        html_ << "<img alt=\"test image " << m.index << "\" src=\"data:image/bmp;base64,"
              << text::base64(text::greyscale_bmp(pixels, rows, columns)) << "\"/>";
      } else {
        html_ << "<div class=\"missing\">?</div>";
      }
      html_ << "<figcaption><div class=\"labels\">true <b>" << escape(class_name(names_, m.label))
            << "</b> \xE2\x86\x92 <span class=\"wrong\">" << escape(class_name(names_, m.predicted)) << "</span></div>"
            << "<div class=\"meta\">" << (m.confidence >= 0.9995 ? std::string("&gt;99.9%") : percent(m.confidence, 1))
            << " confident</div><div class=\"meta\">test #"
            << m.index << "</div></figcaption></figure>\n";
    }
    html_ << "</div>\n</section>\n";
  }

  void architecture() {
    html_ << "<section id=\"architecture\">\n<h2>Architecture</h2>\n";
    if (inputs_.layers.empty()) {
      note("No layer description was given for this report.");
      html_ << "</section>\n";
      return;
    }
    const std::string variant = config_string(run_, "variant");
    html_ << "<figure>\n" << architecture_svg(inputs_.layers, variant) << "</figure>\n<div class=\"row\">\n";
    html_ << "<table>\n<tr><th>Layer</th><th>Type</th><th>Output</th><th class=\"num\">Trainable parameters</th></tr>\n";
    for (const auto& layer : inputs_.layers) {
      html_ << "<tr><td><b>" << escape(layer.name) << "</b></td><td>" << escape(layer.kind) << "</td><td>"
            << escape(shape_label(layer)) << "</td><td class=\"num\">" << text::with_commas(layer.trainable_parameters)
            << "</td></tr>\n";
    }
    html_ << "</table>\n";
    if (!inputs_.c3_table.empty()) html_ << "<figure>\n" << c3_table_svg(inputs_.c3_table) << "</figure>\n";
    html_ << "</div>\n</section>\n";
  }

  void timings() {
    html_ << "<section id=\"timings\">\n<h2>Epochs and timings</h2>\n";
    if (run_.epochs.empty()) {
      note(run_.has_metrics ? "No epoch finished yet." : "metrics.jsonl is not written yet.");
      html_ << "</section>\n";
      return;
    }
    const bool val = has_val();
    html_ << "<div class=\"row\">\n<table>\n<tr><th class=\"num\">epoch</th><th class=\"num\">train loss</th>"
          << "<th class=\"num\">train acc.</th>";
    if (val) html_ << "<th class=\"num\">val loss</th><th class=\"num\">val acc.</th>";
    html_ << "<th class=\"num\">test loss</th><th class=\"num\">test acc.</th><th class=\"num\">learning rate</th>"
          << "<th class=\"num\">seconds</th><th class=\"num\">images/s</th></tr>\n";
    double seconds = 0;
    for (const auto& e : run_.epochs) {
      html_ << "<tr><td class=\"num\">" << e.epoch << "</td><td class=\"num\">" << text::fixed(e.train_loss, 4)
            << "</td><td class=\"num\">" << percent(e.train_accuracy) << "</td>";
      if (val) html_ << "<td class=\"num\">" << text::fixed(e.val_loss, 4) << "</td><td class=\"num\">" << percent(e.val_accuracy) << "</td>";
      char lr[32];
      std::snprintf(lr, sizeof lr, "%.3g", e.lr);
      html_ << "<td class=\"num\">" << text::fixed(e.test_loss, 4) << "</td><td class=\"num\">" << percent(e.test_accuracy)
            << "</td><td class=\"num\">" << (std::isfinite(e.lr) ? lr : "n/a") << "</td><td class=\"num\">"
            << text::fixed(e.seconds, 1) << "</td><td class=\"num\">"
            << (std::isfinite(e.images_per_second) ? text::with_commas(std::llround(e.images_per_second)) : "n/a")
            << "</td></tr>\n";
      if (std::isfinite(e.seconds)) seconds += e.seconds;
    }
    html_ << "</table>\n";
    std::vector<double> x, lr;
    for (const auto& e : run_.epochs) {
      x.push_back(static_cast<double>(e.epoch));
      lr.push_back(e.lr);
    }
    ChartOptions lr_options;
    lr_options.title = "Learning rate (end of epoch)";
    lr_options.x_label = "epoch";
    lr_options.log_y = true;
    lr_options.width = 420;
    lr_options.height = 260;
    html_ << "<figure id=\"learning-rate\">\n" << line_chart_svg({{"lr", "#76b7b2", false, x, lr}}, lr_options) << "</figure>\n";
    html_ << "</div>\n<p>Total training time " << text::duration(seconds) << " over " << run_.epochs.size()
          << (run_.epochs.size() == 1 ? " epoch" : " epochs") << " (training and evaluation).</p>\n</section>\n";
  }

  void key_value_row(const std::string& key, const std::string& value) {
    html_ << "<tr><td>" << escape(key) << "</td><td>" << escape(value) << "</td></tr>\n";
  }

  void config() {
    html_ << "<section id=\"config\">\n<h2>Configuration <small>config.json</small></h2>\n";
    if (!run_.has_config) {
      note("config.json is not written yet.");
      html_ << "</section>\n";
      return;
    }
    html_ << "<table class=\"kv\">\n";
    for (const auto& [key, value] : run_.config.items()) {
      if (key == "versions" || key == "host") continue;
      key_value_row(key, value.is_string() ? value.get<std::string>() : value.dump());
    }
    html_ << "</table>\n</section>\n";
  }

  void environment() {
    html_ << "<section id=\"environment\">\n<h2>Environment</h2>\n<table class=\"kv\">\n";
    const auto versions = run_.config.find("versions");
    if (versions != run_.config.end() && versions->is_object()) {
      for (const auto& [key, value] : versions->items()) key_value_row(key + " version", value.is_string() ? value.get<std::string>() : value.dump());
    }
    for (const char* key : {"device", "threads", "host"}) {
      const std::string value = config_string(run_, key);
      if (!value.empty()) key_value_row(key, value);
    }
    key_value_row("run folder", run_.dir);
    key_value_row("report generated", now_text());
    html_ << "</table>\n</section>\n";
  }

  const ReportInputs& inputs_;
  Run run_;
  std::string dataset_;
  std::vector<std::string> names_;
  std::ostringstream html_;
};

}  // namespace

std::string render_report_html(const ReportInputs& inputs) { return Page(inputs).render(); }

std::string write_report(const ReportInputs& inputs) {
  const fs::path run(inputs.run_dir);
  const std::string path = (run / run_file::kReport).string();
  files::check_output_path(path, {(run / run_file::kConfig).string(), (run / run_file::kMetrics).string(),
                                  (run / run_file::kEvaluation).string(), inputs.test_images});
  files::write_file_atomically(path, render_report_html(inputs));
  return path;
}

std::string run_variant(const std::string& run_dir) {
  const auto config = read_json_object((fs::path(run_dir) / run_file::kConfig).string());
  if (!config) return "";
  const auto it = config->find("variant");
  return it != config->end() && it->is_string() ? it->get<std::string>() : "";
}

bool looks_like_run(const std::string& run_dir) {
  for (const char* name : {run_file::kConfig, run_file::kMetrics, run_file::kEvaluation}) {
    if (fs::exists(fs::path(run_dir) / name)) return true;
  }
  return false;
}

}  // namespace lenet5::report
