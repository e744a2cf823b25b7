// Reading `POST /v1/predict` requests: the picture in the body (raw bytes, a multipart field or a JSON pixel
// array), the digits in it and the query's top_k. Every problem is an HttpError carrying the status to answer.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "lenet5/deploy/image.h"

namespace lenet5::serve {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// The largest JSON pixel array: rows x columns (a picture, not a file, so decode_image's limit does not apply).
inline constexpr int kMaxJsonPixelsSide = 1024;
// A request body with its Content-Type; for multipart/form-data, the `image` field's bytes (httplib parses the
// parts), else the raw body.
struct PredictBody {
  std::string content_type;
  std::string bytes;
};

// The picture in the body: JSON (`application/json`: {"pixels": rows of numbers, "preprocess": bool}) or image
// bytes in any format deploy::decode_image reads, found by their signature. Throws HttpError: 400 for a
// malformed JSON body, 422 for image bytes that are no readable picture. `preprocess` is set from the JSON
// (true for images).
deploy::GrayImage picture_from_body(const PredictBody& body, bool& preprocess);

// The digits to classify, left to right. With `preprocess`, deploy::read_digits finds them (HttpError 422 when
// the picture holds no ink, or too many marks); without it the picture must already be 28x28 (400) and is the
// one view, as it is.
std::vector<deploy::DigitView> digits_in(const deploy::GrayImage& picture, bool preprocess,
                                         const deploy::PreprocessOptions& options);

// top_k from the query (`?top_k=K`, 1 to classes), default 3; HttpError 400 otherwise.
int64_t top_k_from_query(const std::multimap<std::string, std::string>& query, int64_t classes);

}  // namespace lenet5::serve
