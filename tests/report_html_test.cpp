// The HTML report of a run folder: well-formed, every section present, graceful with missing files, clear
// about malformed ones, and not blank when a real browser renders it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stb_image.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "lenet5/report/report.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;
using lenet5::report::ReportInputs;
using lenet5::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPython = "/usr/bin/python3";

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  const auto bytes = lenet5::testing::read_file(path);
  return {bytes.begin(), bytes.end()};
}

std::vector<std::uint8_t> from_base64(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> bytes;
  uint32_t bits = 0;
  int pending = 0;
  for (char c : text) {
    const auto value = alphabet.find(c);
    if (value == std::string::npos) break;  // '=' padding
    bits = bits << 6 | static_cast<uint32_t>(value);
    if ((pending += 6) >= 8) bytes.push_back(static_cast<std::uint8_t>(bits >> (pending -= 8)));
  }
  return bytes;
}

std::vector<std::uint8_t> first_embedded_bmp(const std::string& html) {
  const std::string prefix = "src=\"data:image/bmp;base64,";
  const auto begin = html.find(prefix);
  if (begin == std::string::npos) return {};
  const auto start = begin + prefix.size();
  return from_base64(html.substr(start, html.find('"', start) - start));
}

// A 28x28 MNIST test image as the report embeds it: grey, the zero background white, the ink dark.
void expect_mnist_digit_drawn_dark(const std::vector<std::uint8_t>& bmp) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bmp.data(), static_cast<int>(bmp.size()), &width, &height, &channels, 3), stbi_image_free);
  ASSERT_NE(pixels, nullptr) << stbi_failure_reason();
  ASSERT_EQ(width, 28);
  ASSERT_EQ(height, 28);
  int dark = 0;
  for (int i = 0; i < 28 * 28; ++i) {
    const stbi_uc* p = pixels.get() + 3 * i;
    EXPECT_TRUE(p[0] == p[1] && p[1] == p[2]) << "pixel " << i << " is not grey";
    if (p[0] < 128) ++dark;
  }
  EXPECT_EQ(pixels.get()[0], 255) << "the top-left corner (background) is white";
  EXPECT_GT(dark, 20) << "the digit is drawn dark";
  EXPECT_LT(dark, 28 * 28 / 2) << "the background is light";
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// Runs a Python snippet on `path`; an empty string when it exits 0, else its output.
std::string python_problem(const std::string& code, const std::string& path) {
  TempDir dir;
  write_text(dir.file("check.py"), code);
  const std::string command =
      std::string(kPython) + " " + dir.file("check.py") + " '" + path + "' > " + dir.file("log") + " 2>&1";
  if (std::system(command.c_str()) == 0) return "";
  return "check failed: " + read_text(dir.file("log"));
}

// Strict (XML) and lenient (HTML) parsing, plus every tag the HTML parser opens is closed in order.
constexpr const char* kWellFormed = R"py(
import sys, xml.dom.minidom
from html.parser import HTMLParser
text = open(sys.argv[1], encoding="utf-8").read()
xml.dom.minidom.parseString(text.encode("utf-8"))
VOID = {"meta", "img", "br", "hr", "link", "input"}
class Check(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs): pass
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag: raise SystemExit("unbalanced </%s> after %s" % (tag, self.stack[-3:]))
        self.stack.pop()
c = Check(); c.feed(text); c.close()
if c.stack: raise SystemExit("unclosed: %s" % c.stack)
)py";

std::vector<lenet5::report::DiagramLayer> classic_layers() {
  return {{"C1", "Convolution", {6, 28, 28}, 156},   {"S2", "Subsampling", {6, 14, 14}, 12},
          {"C3", "Convolution", {16, 10, 10}, 1516}, {"S4", "Subsampling", {16, 5, 5}, 32},
          {"C5", "Convolution", {120, 1, 1}, 48120}, {"F6", "FullyConnected", {84}, 10164},
          {"output", "EuclideanRBF", {10}, 0}};
}

// A run folder as engine::train leaves it after `epochs` epochs (no checkpoints: the report ignores them).
void write_fake_run(const std::string& dir, int epochs, bool validation, const std::string& data_dir) {
  write_text(dir + "/config.json", json{{"data_dir", data_dir},
                                        {"dataset", "mnist"},
                                        {"variant", "classic"},
                                        {"epochs", 5},
                                        {"batch_size", 64},
                                        {"optimizer", "adamw"},
                                        {"lr", 0.001},
                                        {"schedule", "onecycle"},
                                        {"device", "cpu"},
                                        {"threads", 2},
                                        {"host", "test-host <&>"},
                                        {"run_dir", dir},
                                        {"versions", {{"lenet5", "0.1.0"}, {"torch", "1.13.1"}}}}
                                       .dump(2));
  std::string metrics;
  for (int e = 1; e <= epochs; ++e) {
    json line{{"epoch", e},
              {"train_loss", 0.9 / e},
              {"train_accuracy", 1 - 0.08 / e},
              {"test_loss", 0.7 / e + 0.02},
              {"test_accuracy", 1 - 0.05 / e},
              {"lr", 1e-3 / e},
              {"seconds", 12.5},
              {"images_per_second", 4800.0 + e}};
    if (validation) {
      line["val_loss"] = 0.75 / e;
      line["val_accuracy"] = 1 - 0.06 / e;
    }
    metrics += line.dump() + "\n";
  }
  write_text(dir + "/metrics.jsonl", metrics);
  if (epochs == 0) return;
  std::vector<std::vector<int64_t>> confusion(10, std::vector<int64_t>(10, 0));
  for (int t = 0; t < 10; ++t) {
    confusion[t][t] = 95 + t;
    confusion[t][(t + 1) % 10] = t % 3;
  }
  confusion[4][9] = 7;
  json mistakes = json::array();
  const std::vector<std::array<int64_t, 3>> wrong = {{8, 4, 9},   {115, 4, 9}, {247, 4, 2},
                                                     {321, 2, 7}, {340, 5, 3}, {445, 6, 0}};
  double confidence = 0.99;
  for (const auto& [index, label, predicted] : wrong) {
    mistakes.push_back({{"index", index}, {"label", label}, {"predicted", predicted}, {"confidence", confidence}});
    confidence -= 0.07;
  }
  std::vector<double> per_class(10, 0.97);
  write_text(dir + "/evaluation.json", json{{"n", 1000},
                                            {"accuracy", 0.975},
                                            {"loss", 0.08},
                                            {"per_class_accuracy", per_class},
                                            {"confusion", confusion},
                                            {"worst_mistakes", mistakes}}
                                           .dump());
}

class ReportHtml : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " is missing: cannot check the HTML";
  }
  ReportInputs inputs() const { return {dir.path(), classic_layers(), {{0, 1, 2}, {1, 2, 3}}, ""}; }
  TempDir dir;
};

TEST_F(ReportHtml, FullRunIsWellFormedWithEverySection) {
  const std::string mnist = lenet5::testing::mnist_dir();
  write_fake_run(dir.path(), 3, true, mnist.empty() ? "/nonexistent" : mnist);
  const std::string path = lenet5::report::write_report(inputs());
  EXPECT_EQ(path, dir.file("report.html"));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp"))) << "temporary file left behind";
  }
  EXPECT_EQ(python_problem(kWellFormed, path), "");
  const std::string html = read_text(path);
  for (const char* id : {"summary", "loss-curves", "accuracy-curves", "confusion", "mistakes", "architecture",
                         "timings", "config", "environment"}) {
    EXPECT_THAT(html, HasSubstr(std::string("id=\"") + id + "\"")) << id;
  }
  EXPECT_THAT(html, HasSubstr("98.33%"));  // best test accuracy: 1 - 0.05 / 3
  EXPECT_THAT(html, HasSubstr(">validation</text>"));
  EXPECT_THAT(html, HasSubstr(">3 / 5<"));  // epochs done of planned
  EXPECT_THAT(html, HasSubstr("test-host &lt;&amp;&gt;"));
  EXPECT_THAT(html, HasSubstr("1.13.1"));
  EXPECT_THAT(html, HasSubstr(">C3</text>"));
  EXPECT_THAT(html, HasSubstr("C3 connection table"));
  EXPECT_THAT(html, HasSubstr("true 4, predicted 9: 7"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("http://www.w3.org/1999")));
  EXPECT_EQ(count(html, "class=\"mistake\""), 6u);
  if (mnist.empty()) {
    EXPECT_THAT(html, HasSubstr("test images not found"));
  } else {
    EXPECT_EQ(count(html, "src=\"data:image/bmp;base64,Qk"), 6u);  // "BM"
    expect_mnist_digit_drawn_dark(first_embedded_bmp(html));
  }
}

// The page's style sheet is report/src/report.css as it is on disk, embedded at build time.
TEST_F(ReportHtml, StyleSheetIsReportCss) {
  write_fake_run(dir.path(), 1, false, "/nonexistent");
  const std::string css = read_text(LENET5_REPORT_CSS);
  ASSERT_THAT(css, HasSubstr(".mistake .wrong"));
  EXPECT_THAT(lenet5::report::render_report_html(inputs()), HasSubstr("<style>\n" + css + "</style>"));
}

TEST_F(ReportHtml, MissingFilesDegradeToNotes) {
  // An empty folder, then only config.json, then an empty metrics.jsonl: each renders with notes.
  std::string html = lenet5::report::render_report_html({dir.path(), {}, {}, ""});
  EXPECT_THAT(html, HasSubstr("No config.json or metrics.jsonl"));
  EXPECT_THAT(html, HasSubstr("No layer description"));
  write_fake_run(dir.path(), 0, false, "/nonexistent");
  fs::remove(dir.file("metrics.jsonl"));
  html = lenet5::report::render_report_html(inputs());
  EXPECT_THAT(html, HasSubstr("metrics.jsonl is not written yet"));
  write_text(dir.file("metrics.jsonl"), "");
  lenet5::report::write_report(inputs());
  EXPECT_EQ(python_problem(kWellFormed, dir.file("report.html")), "");
  html = read_text(dir.file("report.html"));
  EXPECT_THAT(html, HasSubstr("No epoch finished yet"));
  EXPECT_THAT(html, HasSubstr("evaluation.json is not written yet"));
  EXPECT_THAT(html, HasSubstr("id=\"loss-curves\""));
}

TEST_F(ReportHtml, MissingTestImagesLeavePlaceholders) {
  write_fake_run(dir.path(), 1, false, dir.file("no-such-data"));
  const std::string html = lenet5::report::render_report_html(inputs());
  EXPECT_THAT(html, HasSubstr("test images not found at " + dir.file("no-such-data")));
  EXPECT_EQ(count(html, "class=\"missing\""), 6u);
  EXPECT_EQ(lenet5::report::run_variant(dir.path()), "classic");
  EXPECT_TRUE(lenet5::report::looks_like_run(dir.path()));
}

std::string error_of(const ReportInputs& inputs) {
  try {
    lenet5::report::render_report_html(inputs);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a std::runtime_error";
  return {};
}

TEST_F(ReportHtml, MalformedFilesAreNamed) {
  write_fake_run(dir.path(), 2, false, "/nonexistent");
  write_text(dir.file("evaluation.json"), "{\"n\": 10, \"confusion\": [[1, 2]");
  EXPECT_THAT(error_of(inputs()), HasSubstr(dir.file("evaluation.json") + ": malformed JSON"));
  write_text(dir.file("evaluation.json"), "{\"confusion\": \"none\"}");
  EXPECT_THAT(error_of(inputs()),
              HasSubstr(dir.file("evaluation.json") + ": field 'confusion' is string, expected an array"));
  fs::remove(dir.file("evaluation.json"));
  write_text(dir.file("metrics.jsonl"), "{\"epoch\": 1}\n{\"epoch\": 2,\n");
  EXPECT_THAT(error_of(inputs()), HasSubstr(dir.file("metrics.jsonl") + ":2: malformed JSON"));
  write_text(dir.file("config.json"), "[1, 2]");
  EXPECT_THAT(error_of(inputs()), HasSubstr(dir.file("config.json") + ": malformed"));
  EXPECT_THROW(lenet5::report::run_variant(dir.path()), std::runtime_error);
}

// Each field of a metrics.jsonl record out of its type or range: one line naming the file, the line and the
// field, before anything is drawn (an epoch of 1e16 made the epoch axis grow without bound).
TEST_F(ReportHtml, MetricsRecordsOutOfRangeAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("epoch": 1e16)", "field 'epoch' is 1e+16, expected a whole number in [1, 1000000]"},
      {R"("epoch": 0)", "field 'epoch' is 0, expected a whole number in [1, 1000000]"},
      {R"("epoch": -3)", "field 'epoch' is -3"},
      {R"("epoch": 2.5)", "field 'epoch' is 2.5, expected a whole number"},
      {R"("epoch": "2")", "field 'epoch' is string, expected a number"},
      {R"("train_accuracy": 1.5)", "field 'train_accuracy' is 1.5, expected a number in [0, 1]"},
      {R"("test_accuracy": -0.1)", "field 'test_accuracy' is -0.1"},
      {R"("val_accuracy": true)", "field 'val_accuracy' is boolean, expected a number"},
      {R"("test_loss": "0.5")", "field 'test_loss' is string, expected a number"},
      {R"("lr": -0.001)", "field 'lr' is -0.001, expected a number >= 0"},
      {R"("seconds": -1)", "field 'seconds' is -1"},
      {R"("images_per_second": [1])", "field 'images_per_second' is array, expected a number"},
  };
  for (const auto& [field, expected] : cases) {
    write_fake_run(dir.path(), 3, true, "/nonexistent");
    write_text(dir.file("metrics.jsonl"), "{\"epoch\": 1, \"lr\": 0.001}\n\n{\"epoch\": 2, " + field + "}\n");
    EXPECT_THAT(error_of(inputs()), HasSubstr(dir.file("metrics.jsonl") + ":3: " + expected)) << field;
  }
  write_text(dir.file("metrics.jsonl"), "{\"epoch\": 1, \"test_loss\": null}\n{\"epoch\": 1000000}\n");
  EXPECT_NO_THROW(lenet5::report::render_report_html(inputs())) << "null (a NaN written as JSON) and the bounds pass";
}

TEST_F(ReportHtml, EvaluationTablesMustMatchTheClassCount) {
  const std::string path = dir.file("evaluation.json");
  const auto evaluation_with = [&](const json& patch) {
    write_fake_run(dir.path(), 2, false, "/nonexistent");
    json j = json::parse(read_text(path));
    j.update(patch);
    write_text(path, j.dump());
    return error_of(inputs());
  };
  const std::vector<std::vector<int64_t>> huge(2000, std::vector<int64_t>(2000, 1));
  EXPECT_THAT(evaluation_with({{"confusion", huge}}),
              HasSubstr(path + ": field 'confusion' has 2000 entries, expected 10 (one per class)"));
  std::vector<std::vector<int64_t>> ragged(10, std::vector<int64_t>(10, 1));
  ragged[3].resize(2000, 1);
  EXPECT_THAT(evaluation_with({{"confusion", ragged}}), HasSubstr(path + ": field 'confusion' is not a 10x10 matrix"));
  std::vector<std::vector<int64_t>> negative(10, std::vector<int64_t>(10, 1));
  negative[2][5] = -4;
  EXPECT_THAT(evaluation_with({{"confusion", negative}}), HasSubstr(path + ": field 'confusion' is -4"));
  EXPECT_THAT(evaluation_with({{"per_class_accuracy", std::vector<double>(11, 0.5)}}),
              HasSubstr(path + ": field 'per_class_accuracy' has 11 entries, expected 10"));
  EXPECT_THAT(evaluation_with({{"accuracy", 97.5}}), HasSubstr(path + ": field 'accuracy' is 97.5"));
  EXPECT_THAT(evaluation_with({{"n", 1e15}}), HasSubstr(path + ": field 'n' is 1e+15"));
  EXPECT_THAT(evaluation_with({{"worst_mistakes", json::array({{{"index", 3}, {"label", 12}, {"predicted", 1}}})}}),
              HasSubstr(path + ": worst_mistakes: field 'label' is 12, expected a whole number in [0, 9]"));
  EXPECT_THAT(evaluation_with({{"worst_mistakes", json::array({{{"label", 1}, {"predicted", 2}}})}}),
              HasSubstr(path + ": worst_mistakes: field 'index' is missing"));
  EXPECT_THAT(evaluation_with({{"worst_mistakes",
                                json::array({{{"index", 1}, {"label", 1}, {"predicted", 2}, {"confidence", 3}}})}}),
              HasSubstr(path + ": worst_mistakes: field 'confidence' is 3"));
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back({{"index", i}, {"label", 1}, {"predicted", 2}});
  EXPECT_THAT(evaluation_with({{"worst_mistakes", many}}),
              HasSubstr(path + ": field 'worst_mistakes' has 1001 entries, at most 1000"));
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = dirs.find(':', start);
      const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
      if (fs::exists(candidate)) return candidate.string();
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return "";
}

// Counts distinct colours of a PNG (Pillow when installed, else a small zlib decoder) and fails when the
// image is essentially one colour.
constexpr const char* kNotBlank = R"py(
import sys, zlib, struct, collections
path = sys.argv[1]
try:
    from PIL import Image
    image = Image.open(path).convert("RGB")
    width, height = image.size
    pixels = list(image.getdata())
except ImportError:
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), "unsupported PNG format"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    pixels = [tuple(r[i:i + 3]) for r in rows for i in range(0, stride, bpp)]
counts = collections.Counter(pixels)
top = counts.most_common(1)[0][1] / len(pixels)
print("%dx%d, %d colours, most common %.1f%%" % (width, height, len(counts), 100 * top))
if len(counts) < 64 or top > 0.9:
    raise SystemExit("the screenshot looks blank")
)py";

TEST_F(ReportHtml, RendersInHeadlessChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian: apt-get install chromium): skipping the browser check";
  }
  const std::string mnist = lenet5::testing::mnist_dir();
  write_fake_run(dir.path(), 4, true, mnist.empty() ? "/nonexistent" : mnist);
  const std::string report = lenet5::report::write_report(inputs());
  TempDir profile;
  const std::string png = dir.file("report.png");
  const std::string command = "timeout 120 " + chromium +
                              " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage"
                              " --disable-background-networking --no-first-run --disable-component-update"
                              " --disable-sync --hide-scrollbars --user-data-dir=" +
                              profile.path() + " --screenshot=" + png + " --window-size=1200,2400 file://" + report +
                              " > " + dir.file("chromium.log") + " 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(fs::exists(png)) << "chromium wrote no screenshot (status " << status << "):\n"
                               << read_text(dir.file("chromium.log"));
  EXPECT_GT(fs::file_size(png), 10000u);
  EXPECT_EQ(python_problem(kNotBlank, png), "");
}

}  // namespace
