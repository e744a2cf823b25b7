#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>

#include "commands.h"
#include "lenet5/deploy/export.h"
#include "lenet5/deploy/image.h"
#include "lenet5/deploy/predict.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/evaluate.h"
#include "lenet5/engine/threads.h"
#include "lenet5/files/write.h"
#include "lenet5/text/printable.h"

namespace lenet5::app {
namespace {
namespace fs = std::filesystem;

struct PredictOptions {
  std::string model;
  std::vector<std::string> images;
  int64_t top_k = 3;
  bool json = false;
  std::string save_preprocessed;
  std::string device = "auto";
  int threads = engine::kDefaultThreads;
};

// "7" for digits, "9 Ankle boot" where the class has a name of its own, safe for a terminal.
std::string describe_class(int64_t label, const std::vector<std::string>& names) {
  return text::printable(engine::class_label(label, names));
}

std::string format_prediction(const std::string& file, const deploy::Prediction& prediction,
                              const std::vector<std::string>& names, int64_t top_k) {
  std::vector<int64_t> order(prediction.probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return prediction.probabilities[static_cast<size_t>(a)] > prediction.probabilities[static_cast<size_t>(b)];
  });
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << text::printable(file) << ": " << describe_class(prediction.label, names)
      << " (" << 100.0 * prediction.probabilities[static_cast<size_t>(prediction.label)] << "%)";
  if (top_k > 1) {
    out << "; top " << top_k << ":";
    for (int64_t i = 0; i < top_k && i < static_cast<int64_t>(order.size()); ++i) {
      const int64_t label = order[static_cast<size_t>(i)];
      out << (i == 0 ? " " : ", ") << describe_class(label, names) << " "
          << 100.0 * prediction.probabilities[static_cast<size_t>(label)] << "%";
    }
  }
  return out.str();
}

// DIR/<stem>.png, or <stem>-2.png, ... when that name is taken (by an input, an earlier run or another image
// with the same stem): an existing file is never replaced. A changed name is said on stderr.
std::string save_preprocessed(const std::string& dir, const std::string& image_file, const deploy::GrayImage& image) {
  const std::string stem = fs::path(image_file).stem().string();
  const std::string saved = files::write_new_file(dir, stem, ".png", deploy::encode_image(image, ".png"));
  const std::string wanted = (fs::path(dir) / (stem + ".png")).string();
  if (saved != wanted) std::cerr << "lenet5: note: " << wanted << " exists; saved as " << saved << "\n";
  return saved;
}

void run_predict(const PredictOptions& options) {
  engine::set_cpu_threads(options.threads);
  const torch::Device device = engine::resolve_device(options.device);
  auto model = deploy::load_exported(options.model, device);
  const auto& names = model.metadata.class_names;
  const auto preprocess_options = deploy::preprocess_options_for(model.metadata.dataset);
  if (!options.save_preprocessed.empty()) files::ensure_writable_directory(options.save_preprocessed);

  std::vector<std::string> files;
  std::vector<deploy::GrayImage> images;
  size_t failed = 0;
  for (const auto& file : options.images) {
    try {
      auto image = deploy::load_digit(file, preprocess_options);
      if (!options.save_preprocessed.empty()) save_preprocessed(options.save_preprocessed, file, image);
      files.push_back(file);
      images.push_back(std::move(image));
    } catch (const deploy::ImageError& e) {
      std::cerr << "lenet5: error: " << text::printable(e.what()) << "\n";
      ++failed;
    }
  }
  const auto predictions = deploy::predict(model, images, device);
  for (size_t i = 0; i < predictions.size(); ++i) {
    const auto& prediction = predictions[i];
    if (options.json) {
      const nlohmann::json line{{"file", text::printable(files[i])},
                                {"label", prediction.label},
                                {"name", text::printable(names[static_cast<size_t>(prediction.label)])},
                                {"probabilities", prediction.probabilities}};
      std::cout << line.dump() << "\n";
    } else {
      std::cout << format_prediction(files[i], prediction, names, options.top_k) << "\n";
    }
  }
  std::cout.flush();
  if (failed > 0) {
    throw std::runtime_error(std::to_string(failed) + " of " + std::to_string(options.images.size()) +
                             " images could not be read");
  }
}

}  // namespace

void setup_predict(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  auto* sub = app.add_subcommand("predict", "Classify images (PNG, JPEG, BMP, PGM, ...) with an exported model");
  sub->add_option("--model", options->model, "Exported TorchScript model (lenet5 export)")->required();
  sub->add_option("--top-k", options->top_k, "How many of the most likely classes to list")
      ->check(whole_number(1, 10))
      ->capture_default_str();
  sub->add_flag("--json", options->json, "One JSON object per image: file, label, name, probabilities");
  sub->add_option("--save-preprocessed", options->save_preprocessed,
                  "Folder to write each image as the network sees it (28x28 PNG)");
  add_device_option(*sub, options->device);
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_option("images", options->images, "Images to classify: dark ink on light paper or light on dark")
      ->required();
  sub->callback([options] { run_predict(*options); });
}

}  // namespace lenet5::app
