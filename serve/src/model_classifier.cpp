#include "lenet5/serve/model_classifier.h"

#include <nlohmann/json.hpp>

#include "lenet5/deploy/predict.h"

namespace lenet5::serve {

Classifier model_classifier(std::shared_ptr<deploy::ExportedModel> model) {
  {
    c10::InferenceMode inference;
    model->forward(torch::zeros({1, 1, model::kImageSide, model::kImageSide}).to(model->device));
  }
  return [model](const std::vector<deploy::GrayImage>& images) {
    std::vector<Classification> answers;
    for (auto& prediction : deploy::predict(*model, images, model->device)) {
      answers.push_back(Classification{prediction.label, std::move(prediction.probabilities)});
    }
    return answers;
  };
}

ModelInfo model_info(const deploy::ExportedModel& model) {
  ModelInfo info;
  info.class_names = model.metadata.class_names;
  info.reads_numbers = model.metadata.dataset == data::DatasetKind::kMnist;
  info.preprocess = deploy::preprocess_options_for(model.metadata.dataset);
  info.metadata = nlohmann::json::parse(deploy::metadata_to_json(model.metadata));
  info.metadata["file"] = model.path;
  if (model.session) {
    info.metadata["engines"] = {{"batch_1", model.session->engine_for(1)}, {"batch_64", model.session->engine_for(64)}};
  }
  return info;
}

}  // namespace lenet5::serve
