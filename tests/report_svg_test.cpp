// The SVG figures: well-formed XML, every layer labelled, nothing external.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lenet5/report/chart.h"
#include "lenet5/report/diagram.h"
#include "test_files.h"

namespace {

using lenet5::report::DiagramLayer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPython = "/usr/bin/python3";

// Parses `content` with Python's XML parser; an empty string when it is well-formed, else the reason.
std::string xml_problem(const std::string& content) {
  lenet5::testing::TempDir dir;
  const std::string path = dir.file("figure.svg");
  lenet5::testing::write_file(path, std::vector<std::uint8_t>(content.begin(), content.end()));
  const std::string command = std::string(kPython) +
                              " -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' " + path + " > " +
                              dir.file("log") + " 2>&1";
  if (std::system(command.c_str()) == 0) return "";
  const auto log = lenet5::testing::read_file(dir.file("log"));
  return "not well-formed XML: " + std::string(log.begin(), log.end());
}

std::vector<DiagramLayer> classic_layers() {
  return {{"C1", "Convolution", {6, 28, 28}, 156},   {"S2", "Subsampling", {6, 14, 14}, 12},
          {"C3", "Convolution", {16, 10, 10}, 1516}, {"S4", "Subsampling", {16, 5, 5}, 32},
          {"C5", "Convolution", {120, 1, 1}, 48120}, {"F6", "FullyConnected", {84}, 10164},
          {"output", "EuclideanRBF", {10}, 0}};
}

std::vector<DiagramLayer> modern_layers() {
  return {{"C1", "Convolution", {6, 28, 28}, 156},   {"S2", "MaxPool", {6, 14, 14}, 0},
          {"C3", "Convolution", {16, 10, 10}, 2416}, {"S4", "MaxPool", {16, 5, 5}, 0},
          {"C5", "Convolution", {120, 1, 1}, 48120}, {"F6", "FullyConnected", {84}, 10164},
          {"output", "FullyConnected", {10}, 850}};
}

std::vector<std::vector<int64_t>> paper_c3_table() {
  return {{0, 1, 2},    {1, 2, 3},    {2, 3, 4},    {3, 4, 5},         {0, 4, 5},    {0, 1, 5},
          {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {0, 3, 4, 5},      {0, 1, 4, 5}, {0, 1, 2, 5},
          {0, 1, 3, 4}, {1, 2, 4, 5}, {0, 2, 3, 5}, {0, 1, 2, 3, 4, 5}};
}

void expect_self_contained(const std::string& svg) {
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("href")));
  EXPECT_THAT(svg, Not(HasSubstr("url(")));
  EXPECT_THAT(svg, Not(HasSubstr("@import")));
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

class ReportSvg : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPython)) GTEST_SKIP() << kPython << " is missing: cannot check the XML";
  }
};

TEST_F(ReportSvg, ClassicDiagramIsWellFormedAndLabelsEveryLayer) {
  const std::string svg = lenet5::report::architecture_svg(classic_layers(), "classic");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  for (const auto& layer : classic_layers()) EXPECT_THAT(svg, HasSubstr(">" + layer.name + "</text>")) << layer.name;
  EXPECT_THAT(svg, HasSubstr(">input</text>"));
  EXPECT_THAT(svg, HasSubstr(">1@32\xC3\x97"
                             "32</text>"));  // the paper's padded input
  EXPECT_THAT(svg, HasSubstr(">16@10\xC3\x97"
                             "10</text>"));
  EXPECT_THAT(svg, HasSubstr(">120</text>"));  // C5 drawn as a vector
  EXPECT_THAT(svg, HasSubstr("60,000 trainable parameters"));
  EXPECT_THAT(svg, HasSubstr("Subsampling (trainable)"));
  EXPECT_THAT(svg, HasSubstr("Euclidean RBF output"));
  EXPECT_THAT(svg, Not(HasSubstr("Max pooling")));
  expect_self_contained(svg);
}

TEST_F(ReportSvg, ModernDiagramStartsFromTheUnpaddedImage) {
  const std::string svg = lenet5::report::architecture_svg(modern_layers(), "modern");
  EXPECT_EQ(xml_problem(svg), "");
  for (const auto& layer : modern_layers()) EXPECT_THAT(svg, HasSubstr(">" + layer.name + "</text>")) << layer.name;
  EXPECT_THAT(svg, HasSubstr(">1@28\xC3\x97"
                             "28</text>"));
  EXPECT_THAT(svg, HasSubstr("Max pooling"));
  EXPECT_THAT(svg, HasSubstr("61,706 trainable parameters"));
  EXPECT_THAT(svg, Not(HasSubstr("Euclidean RBF")));
  expect_self_contained(svg);
}

TEST_F(ReportSvg, NamesAreEscaped) {
  const std::string svg = lenet5::report::architecture_svg({{"a<b&c", "Convolution", {2, 3, 3}, 1}}, "modern");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_THAT(svg, HasSubstr("a&lt;b&amp;c"));
}

TEST_F(ReportSvg, C3TableFillsOneCellPerConnection) {
  const std::string svg = lenet5::report::c3_table_svg(paper_c3_table());
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, " reads S2 map"), 60u);
  EXPECT_EQ(count(svg, " does not read S2 map"), 36u);
  EXPECT_THAT(svg, HasSubstr("60 of 96 possible connections"));
  EXPECT_THAT(svg, HasSubstr(">15</text>"));
  expect_self_contained(svg);
}

TEST_F(ReportSvg, LineChartsHaveAxesLegendAndPoints) {
  lenet5::report::ChartOptions options;
  options.title = "Accuracy";
  options.x_label = "epoch";
  options.y_suffix = "%";
  options.y_max_cap = 100;
  const std::string svg = lenet5::report::line_chart_svg({{"train", "#4e79a7", false, {1, 2, 3}, {91.5, 97.2, 98.4}},
                                                          {"test", "#e15759", true, {1, 2, 3}, {95, 97.9, 98.8}}},
                                                         options);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 6u + 2u);   // points plus legend markers
  EXPECT_THAT(svg, HasSubstr(">91%</text>"));  // nice bounds around 91.5 ... 98.8
  EXPECT_THAT(svg, HasSubstr(">99%</text>"));
  EXPECT_THAT(svg, Not(HasSubstr(">100%</text>")));
  EXPECT_THAT(svg, HasSubstr(">train</text>"));
  EXPECT_THAT(svg, HasSubstr(">epoch</text>"));
}

TEST_F(ReportSvg, EmptyAndDegenerateChartsStillRender) {
  lenet5::report::ChartOptions options;
  options.title = "Loss";
  options.empty_message = "No epoch finished yet";
  const std::string empty = lenet5::report::line_chart_svg({{"train", "#000", false, {}, {}}}, options);
  EXPECT_EQ(xml_problem(empty), "");
  EXPECT_THAT(empty, HasSubstr("No epoch finished yet"));
  const double nan = std::nan("");
  const std::string one = lenet5::report::line_chart_svg({{"train", "#000", false, {1, 2}, {0.5, nan}}}, options);
  EXPECT_EQ(xml_problem(one), "");
  EXPECT_EQ(count(one, "<polyline"), 0u);
  EXPECT_THAT(one, Not(HasSubstr("nan")));
  options.log_y = true;
  const std::string log = lenet5::report::line_chart_svg({{"lr", "#000", false, {1, 2, 3}, {3e-3, 1e-3, 0}}}, options);
  EXPECT_EQ(xml_problem(log), "");
  EXPECT_THAT(log, HasSubstr(">1e-3</text>"));
}

}  // namespace
