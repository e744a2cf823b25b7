#include "lenet5/serve/request.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace lenet5::serve {
namespace {

// Text from the request, cut short for an error message.
std::string shortened(const std::string& text) { return text.size() <= 40 ? text : text.substr(0, 37) + "..."; }

bool is_json(const std::string& content_type) {
  const std::string type = content_type.substr(0, content_type.find(';'));
  return type == "application/json";
}

// Rows of numbers, all rows the same length; values in [0,1], or in [0,255] when any exceeds 1 (then scaled).
deploy::GrayImage pixels_from_json(const nlohmann::json& rows) {
  const auto bad = [](const std::string& why) { return HttpError(400, "'pixels' " + why); };
  if (!rows.is_array() || rows.empty()) throw bad("must be a non-empty array of rows of numbers");
  if (rows.size() > kMaxJsonPixelsSide) {
    throw bad("has " + std::to_string(rows.size()) + " rows; at most " + std::to_string(kMaxJsonPixelsSide));
  }
  const size_t width = rows[0].is_array() ? rows[0].size() : 0;
  if (width == 0 || width > kMaxJsonPixelsSide) {
    throw bad("rows must hold 1 to " + std::to_string(kMaxJsonPixelsSide) + " numbers");
  }
  deploy::GrayImage image(static_cast<int>(width), static_cast<int>(rows.size()));
  float largest = 0;
  for (size_t y = 0; y < rows.size(); ++y) {
    if (!rows[y].is_array() || rows[y].size() != width) {
      throw bad("row " + std::to_string(y) + " is not an array of " + std::to_string(width) + " numbers like row 0");
    }
    for (size_t x = 0; x < width; ++x) {
      const auto& value = rows[y][x];
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 ||
          value.get<double>() > 255) {
        throw bad("[" + std::to_string(y) + "][" + std::to_string(x) + "] is " + shortened(value.dump()) +
                  "; expected a number in [0,1] (or 0 to 255)");
      }
      image.at(static_cast<int>(x), static_cast<int>(y)) = value.get<float>();
      largest = std::max(largest, value.get<float>());
    }
  }
  if (largest > 1) {
    for (float& pixel : image.pixels) pixel /= 255.0f;
  }
  return image;
}

deploy::GrayImage picture_from_json(const std::string& text, bool& preprocess) {
  const auto body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) throw HttpError(400, "the body is not valid JSON");
  if (!body.is_object()) throw HttpError(400, "the JSON body must be an object {\"pixels\": [[...], ...]}");
  for (const auto& [key, value] : body.items()) {
    if (key != "pixels" && key != "preprocess") {
      throw HttpError(400, "unknown field '" + shortened(key) + "'; expected 'pixels' and optionally 'preprocess'");
    }
  }
  if (!body.contains("pixels")) throw HttpError(400, "the JSON body has no 'pixels' field");
  preprocess = true;
  if (body.contains("preprocess")) {
    if (!body["preprocess"].is_boolean()) throw HttpError(400, "'preprocess' must be true or false");
    preprocess = body["preprocess"].get<bool>();
  }
  return pixels_from_json(body["pixels"]);
}

}  // namespace

deploy::GrayImage picture_from_body(const PredictBody& body, bool& preprocess) {
  if (body.bytes.empty()) {
    throw HttpError(400, "empty body: send a picture (PNG, JPEG, ...), a multipart field 'image' or JSON pixels");
  }
  if (is_json(body.content_type)) return picture_from_json(body.bytes, preprocess);
  preprocess = true;
  try {
    return deploy::decode_image(std::vector<std::uint8_t>(body.bytes.begin(), body.bytes.end()), "image");
  } catch (const deploy::ImageError& e) {
    throw HttpError(422, e.what());
  }
}

std::vector<deploy::DigitView> digits_in(const deploy::GrayImage& picture, bool preprocess,
                                         const deploy::PreprocessOptions& options) {
  if (!preprocess) {
    if (picture.width != options.side || picture.height != options.side) {
      throw HttpError(400, "'pixels' is " + std::to_string(picture.height) + "x" + std::to_string(picture.width) +
                               "; without preprocessing it must be " + std::to_string(options.side) + "x" +
                               std::to_string(options.side));
    }
    return {deploy::DigitView{picture, 0, 0, picture.width, picture.height}};
  }
  try {
    return deploy::read_digits(picture, options);
  } catch (const deploy::ImageError& e) {
    throw HttpError(422, std::string("image: ") + e.what());
  }
}

int64_t top_k_from_query(const std::multimap<std::string, std::string>& query, int64_t classes) {
  const auto found = query.find("top_k");
  if (found == query.end()) return std::min<int64_t>(3, classes);
  const std::string& text = found->second;
  const bool digits = !text.empty() && text.size() <= 4 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int64_t k = digits ? std::stoll(text) : 0;
  if (k < 1 || k > classes) {
    throw HttpError(
        400, "top_k must be a whole number from 1 to " + std::to_string(classes) + ", got '" + shortened(text) + "'");
  }
  return k;
}

}  // namespace lenet5::serve
