// Classifying preprocessed images with an exported model.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "lenet5/deploy/export.h"
#include "lenet5/deploy/image.h"

namespace lenet5::deploy {

struct Prediction {
  int64_t label = -1;
  std::vector<float> probabilities;  // softmax of the scores, one per class
};

// Stacks 28x28 images into float32 [N,1,28,28].
torch::Tensor images_to_tensor(const std::vector<GrayImage>& images);

// Scores the images in one pass on `device` (where the model lives) under InferenceMode.
std::vector<Prediction> predict(ExportedModel& model, const std::vector<GrayImage>& images,
                                const torch::Device& device = torch::kCPU);

}  // namespace lenet5::deploy
