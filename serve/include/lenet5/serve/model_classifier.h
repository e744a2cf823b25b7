// An exported model (deploy::ExportedModel, served through its InferenceSession as `lenet5 predict` does) as
// the server's Classifier and ModelInfo. The only part of lenet5_serve that needs LibTorch.
#pragma once

#include <memory>

#include "lenet5/deploy/exported_model.h"
#include "lenet5/serve/batcher.h"
#include "lenet5/serve/response.h"

namespace lenet5::serve {

// Classifies with deploy::predict on the model's device. Builds the model's InferenceSession now (its first
// forward pass compiles it), so that the first request does not wait for that.
Classifier model_classifier(std::shared_ptr<deploy::ExportedModel> model);

// The class names, the dataset's preprocessing and, for GET /v1/model, the metadata plus "file" and
// "engines" (which compiled form serves one image and a batch of 64).
ModelInfo model_info(const deploy::ExportedModel& model);

}  // namespace lenet5::serve
