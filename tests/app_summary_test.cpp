// `lenet5 summary` (app/summary_format.h): the table as the README shows it, the JSON with every count.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "summary_format.h"

namespace {

using lenet5::model::Variant;

// The text block after "`lenet5 summary --variant classic`:" in the README.
std::string readme_summary_block() {
  std::ifstream in(std::string(LENET5_SOURCE_DIR) + "/README.md");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string readme = buffer.str();
  const auto heading = readme.find("`lenet5 summary --variant classic`:");
  if (heading == std::string::npos) return "";
  const auto begin = readme.find("```text\n", heading);
  const auto end = readme.find("```\n", begin + 8);
  if (begin == std::string::npos || end == std::string::npos) return "";
  return readme.substr(begin + 8, end - begin - 8);
}

TEST(AppSummary, TableIsTheReadmes) {
  lenet5::model::LeNet5 net(Variant::kClassic);
  const std::string expected = readme_summary_block();
  ASSERT_FALSE(expected.empty()) << "README.md lost its summary example";
  EXPECT_EQ(lenet5::app::format_summary_table(lenet5::model::summarize(net)), expected);
}

TEST(AppSummary, JsonHoldsEveryCountInOrder) {
  for (Variant variant : {Variant::kModern, Variant::kClassic}) {
    SCOPED_TRACE(lenet5::model::variant_name(variant));
    lenet5::model::LeNet5 net(variant);
    const auto summary = lenet5::model::summarize(net);
    const std::string text = lenet5::app::format_summary_json(summary);
    EXPECT_EQ(text.find('\n'), std::string::npos) << "one line";
    const auto document = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& item : document.items()) keys.push_back(item.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"variant", "layers", "trainable_parameters", "fixed_parameters",
                                              "connections"}));
    EXPECT_EQ(document["variant"], lenet5::model::variant_name(variant));
    EXPECT_EQ(document["trainable_parameters"], summary.trainable_parameters);
    EXPECT_EQ(document["fixed_parameters"], summary.fixed_parameters);
    EXPECT_EQ(document["connections"], summary.connections);
    ASSERT_EQ(document["layers"].size(), summary.layers.size());
    for (size_t i = 0; i < summary.layers.size(); ++i) {
      const auto& layer = summary.layers[i];
      const auto& row = document["layers"][i];
      EXPECT_EQ(row.dump(), nlohmann::ordered_json({{"name", layer.name},
                                                    {"type", layer.type},
                                                    {"output_shape", layer.output_shape},
                                                    {"trainable_parameters", layer.trainable_parameters},
                                                    {"fixed_parameters", layer.fixed_parameters},
                                                    {"connections", layer.connections}})
                                .dump());
    }
  }
}

}  // namespace
