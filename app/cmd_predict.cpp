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

// DIR/<name>.png, or <name>-2.png, ... when that name is taken (by an input, an earlier run or another image
// with the same stem): an existing file is never replaced. A changed name is said on stderr.
std::string save_view(const std::string& dir, const std::string& name, const deploy::GrayImage& image) {
  const std::string saved = files::write_new_file(dir, name, ".png", deploy::encode_image(image, ".png"));
  const std::string wanted = (fs::path(dir) / (name + ".png")).string();
  if (saved != wanted) std::cerr << "lenet5: note: " << wanted << " exists; saved as " << saved << "\n";
  return saved;
}

// A picture's digits, left to right.
struct Picture {
  std::string file;
  std::vector<deploy::DigitView> digits;
};

// Each picture's views as <stem>.png, or <stem>-digit1.png, -digit2, ... for a picture of several digits.
void save_views(const std::string& dir, const Picture& picture) {
  const std::string stem = fs::path(picture.file).stem().string();
  for (size_t d = 0; d < picture.digits.size(); ++d) {
    const std::string name = picture.digits.size() == 1 ? stem : stem + "-digit" + std::to_string(d + 1);
    save_view(dir, name, picture.digits[d].view);
  }
}

// The pictures that could be read (their views saved when asked); a line on stderr for each of the others.
std::vector<Picture> read_pictures(const PredictOptions& options, const deploy::PreprocessOptions& preprocess_options,
                                   size_t* failed) {
  std::vector<Picture> pictures;
  for (const auto& file : options.images) {
    try {
      Picture picture{file, deploy::load_digits(file, preprocess_options)};
      if (!options.save_preprocessed.empty()) save_views(options.save_preprocessed, picture);
      pictures.push_back(std::move(picture));
    } catch (const deploy::ImageError& e) {
      std::cerr << "lenet5: error: " << text::printable(e.what()) << "\n";
      ++*failed;
    }
  }
  return pictures;
}

nlohmann::json digit_json(const deploy::Prediction& prediction, const deploy::DigitView& digit,
                          const std::vector<std::string>& names) {
  return {{"label", prediction.label},
          {"name", text::printable(names[static_cast<size_t>(prediction.label)])},
          {"probabilities", prediction.probabilities},
          {"box", {{"x", digit.x}, {"y", digit.y}, {"width", digit.width}, {"height", digit.height}}}};
}

// One picture's predictions (one per digit, left to right): a picture of one digit gives the line it always
// gave; several give the number they spell, then a line per digit named FILE#1, FILE#2, ...
void print_picture(const Picture& picture, const deploy::Prediction* predictions, const std::vector<std::string>& names,
                   const PredictOptions& options) {
  const size_t n = picture.digits.size();
  std::string number;
  for (size_t d = 0; d < n; ++d) number += describe_class(predictions[d].label, names);
  if (options.json) {
    nlohmann::json line{
        {"file", text::printable(picture.file)}, {"number", number}, {"digits", nlohmann::json::array()}};
    for (size_t d = 0; d < n; ++d) line["digits"].push_back(digit_json(predictions[d], picture.digits[d], names));
    if (n == 1) line.update(line["digits"][0]);  // the single digit's fields at the top, as before
    std::cout << line.dump() << "\n";
    return;
  }
  if (n == 1) {
    std::cout << format_prediction(picture.file, predictions[0], names, options.top_k) << "\n";
    return;
  }
  std::cout << text::printable(picture.file) << ": " << number << " (" << n << " digits, left to right)\n";
  for (size_t d = 0; d < n; ++d) {
    std::cout << format_prediction(picture.file + "#" + std::to_string(d + 1), predictions[d], names, options.top_k)
              << "\n";
  }
}

void run_predict(const PredictOptions& options) {
  engine::set_cpu_threads(options.threads);
  const torch::Device device = engine::resolve_device(options.device);
  auto model = deploy::load_exported(options.model, device);
  const auto& names = model.metadata.class_names;
  if (!options.save_preprocessed.empty()) files::ensure_writable_directory(options.save_preprocessed);

  size_t failed = 0;
  const auto pictures = read_pictures(options, deploy::preprocess_options_for(model.metadata.dataset), &failed);
  std::vector<deploy::GrayImage> views;
  for (const auto& picture : pictures) {
    for (const auto& digit : picture.digits) views.push_back(digit.view);
  }
  const auto predictions = deploy::predict(model, views, device);
  size_t first = 0;
  for (const auto& picture : pictures) {
    print_picture(picture, predictions.data() + first, names, options);
    first += picture.digits.size();
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
  sub->add_flag("--json", options->json,
                "One JSON object per image: file, number, digits (label, name, probabilities, box each)");
  sub->add_option("--save-preprocessed", options->save_preprocessed,
                  "Folder to write each digit as the network sees it (28x28 PNG: <stem>.png, or <stem>-digitN.png)");
  add_device_option(*sub, options->device);
  sub->add_option("--threads", options->threads, "CPU threads of every pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_option("images", options->images,
                  "Images to classify: dark ink on light paper or light on dark; digits side by side read as a number")
      ->required();
  sub->callback([options] { run_predict(*options); });
}

}  // namespace lenet5::app
