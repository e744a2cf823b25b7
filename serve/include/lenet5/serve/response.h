// The JSON answers of the API (README, "Serving"): predictions, the model, errors.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "lenet5/serve/batcher.h"
#include "lenet5/serve/request.h"

namespace lenet5::serve {

// What the server says about its model.
struct ModelInfo {
  std::vector<std::string> class_names;
  bool reads_numbers = true;             // the classes are the digits 0-9: answers carry "number"
  deploy::PreprocessOptions preprocess;  // the dataset's (deploy::preprocess_options_for)
  nlohmann::json metadata;               // GET /v1/model: the exported file's metadata.json
};

// {"number": "42" (digits only), "digits": [{"label", "name", "probability", "probabilities", "top_k": [{"label",
// "name", "probability"}...], "box": {"x", "y", "width", "height"}, "view_png": base64 PNG of the 28x28 view}]}
nlohmann::json prediction_json(const ModelInfo& model, const std::vector<deploy::DigitView>& digits,
                               const std::vector<Classification>& answers, int64_t top_k);

// {"error": message}
std::string error_json(const std::string& message);

}  // namespace lenet5::serve
