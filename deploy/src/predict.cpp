#include "lenet5/deploy/predict.h"

#include <algorithm>
#include <iostream>

#include "lenet5/text/printable.h"

namespace lenet5::deploy {

torch::Tensor ExportedModel::forward(const torch::Tensor& images) {
  torch::Tensor scores;
  try {
    if (!session) {
      session = std::make_shared<InferenceSession>(module, device);
      for (const auto& note : session->notes())
        std::cerr << "lenet5: note: " << text::printable(path) << ": " << note << "\n";
    }
    scores = session->forward(images);
  } catch (const DeployError& e) {  // the session's own check: "the model ..."
    throw DeployError(text::printable(path) + ": " + e.what());
  } catch (const std::exception& e) {
    throw DeployError(text::printable(path) + ": the model fails: " + error_summary(e));
  }
  return checked_scores(scores, images.size(0), path);
}

torch::Tensor images_to_tensor(const std::vector<GrayImage>& images) {
  const int64_t side = model::kImageSide;
  auto batch = torch::empty({static_cast<int64_t>(images.size()), 1, side, side}, torch::kFloat32);
  float* out = batch.data_ptr<float>();
  for (const auto& image : images) {
    if (image.width != side || image.height != side) {
      throw std::invalid_argument("expected " + std::to_string(side) + "x" + std::to_string(side) + " images, got " +
                                  std::to_string(image.width) + "x" + std::to_string(image.height));
    }
    out = std::copy(image.pixels.begin(), image.pixels.end(), out);
  }
  return batch;
}

std::vector<Prediction> predict(ExportedModel& model, const std::vector<GrayImage>& images,
                                const torch::Device& device) {
  std::vector<Prediction> predictions;
  if (images.empty()) return predictions;
  c10::InferenceMode inference;
  const auto scores = model.forward(images_to_tensor(images).to(device));  // [N,10], finite: checked there
  const auto probabilities = torch::softmax(scores.to(torch::kFloat32), 1).to(torch::kCPU).contiguous();
  const auto labels = probabilities.argmax(1);
  const float* p = probabilities.data_ptr<float>();
  for (int64_t i = 0; i < probabilities.size(0); ++i) {
    Prediction prediction;
    prediction.label = labels[i].item<int64_t>();
    prediction.probabilities.assign(p + i * model::kNumClasses, p + (i + 1) * model::kNumClasses);
    predictions.push_back(std::move(prediction));
  }
  return predictions;
}

}  // namespace lenet5::deploy
