#include "lenet5/serve/response.h"

#include <algorithm>
#include <numeric>

#include "lenet5/text/base64.h"

namespace lenet5::serve {
namespace {

nlohmann::json top_k_json(const ModelInfo& model, const Classification& answer, int64_t top_k) {
  std::vector<size_t> order(answer.probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return answer.probabilities[a] > answer.probabilities[b]; });
  auto list = nlohmann::json::array();
  for (size_t i = 0; i < order.size() && static_cast<int64_t>(i) < top_k; ++i) {
    list.push_back(
        {{"label", order[i]}, {"name", model.class_names[order[i]]}, {"probability", answer.probabilities[order[i]]}});
  }
  return list;
}

nlohmann::json digit_json(const ModelInfo& model, const deploy::DigitView& digit, const Classification& answer,
                          int64_t top_k) {
  const auto label = static_cast<size_t>(answer.label);
  return {{"label", answer.label},
          {"name", model.class_names.at(label)},
          {"probability", answer.probabilities.at(label)},
          {"probabilities", answer.probabilities},
          {"top_k", top_k_json(model, answer, top_k)},
          {"box", {{"x", digit.x}, {"y", digit.y}, {"width", digit.width}, {"height", digit.height}}},
          {"view_png", text::base64(deploy::encode_image(digit.view, ".png"))}};
}

}  // namespace

nlohmann::json prediction_json(const ModelInfo& model, const std::vector<deploy::DigitView>& digits,
                               const std::vector<Classification>& answers, int64_t top_k) {
  nlohmann::json result;
  auto list = nlohmann::json::array();
  std::string number;
  for (size_t i = 0; i < digits.size(); ++i) {
    list.push_back(digit_json(model, digits[i], answers.at(i), top_k));
    number += std::to_string(answers[i].label);
  }
  if (model.reads_numbers) result["number"] = number;
  result["digits"] = std::move(list);
  return result;
}

std::string error_json(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace lenet5::serve
