#include "lenet5/engine/evaluate.h"

#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "lenet5/model/loss.h"
#include "lenet5/run_files/evaluation_record.h"

namespace lenet5::engine {

namespace {

// What scoring the batches leaves on the device; read back once, at the end.
struct DeviceTotals {
  torch::Tensor loss_sum;          // float64 []
  torch::Tensor confusion;         // int64 [100]: true * 10 + predicted
  torch::Tensor non_finite;        // images with a NaN or infinite score
  torch::Tensor wrong_confidence;  // [n]: confidence of each wrong prediction (0 where right)
};

// The images this rank scores: all of them alone, else its contiguous share.
std::pair<int64_t, int64_t> share_of(int64_t n, const Collective* group) {
  if (group == nullptr) return {0, n};
  const int64_t size = group->world_size(), rank = group->rank();
  return {n * rank / size, n * (rank + 1) / size};
}

DeviceTotals score_batches(const Scorer& scorer, const data::MnistDataset& data, model::Variant variant,
                           const EvaluateOptions& options) {
  const auto& images = data.images();
  const auto& targets = data.targets();
  const int64_t n = data.length();
  DeviceTotals totals{
      torch::zeros({}, images.options().dtype(torch::kFloat64)), torch::zeros({100}, targets.options()),
      torch::zeros({}, targets.options()),
      options.worst_mistakes > 0 ? torch::zeros({n}, images.options().dtype(torch::kFloat32)) : torch::Tensor()};
  const auto [first, last] = share_of(n, options.group);
  const int64_t ranks = options.group != nullptr ? options.group->world_size() : 1;
  for (int64_t begin = first; begin < last; begin += options.batch_size) {
    const int64_t end = std::min(last, begin + options.batch_size);
    auto x = images.slice(0, begin, end);
    auto y = targets.slice(0, begin, end);
    auto scores = scorer(x);
    totals.non_finite += torch::isfinite(scores).logical_not().any(1).sum();
    totals.loss_sum += model::classification_loss(scores, y, variant).to(torch::kFloat64) * (end - begin);
    auto predicted = scores.argmax(1);
    totals.confusion += torch::bincount(y * 10 + predicted, {}, 100);
    if (options.on_progress) options.on_progress(std::min(n, (end - first) * ranks), n);
    if (options.worst_mistakes > 0) {
      auto confidence = torch::softmax(scores.to(torch::kFloat32), 1).amax(1);
      totals.wrong_confidence.slice(0, begin, end).copy_(predicted.ne(y) * confidence);
    }
  }
  if (options.group != nullptr) {
    for (auto* total : {&totals.loss_sum, &totals.confusion, &totals.non_finite, &totals.wrong_confidence}) {
      if (total->defined()) options.group->all_reduce_sum(*total);
    }
  }
  return totals;
}

// The confusion matrix, per-class accuracy and accuracy of `result` from the device's counts; returns the
// number classified right.
int64_t fill_confusion(Evaluation& result, const torch::Tensor& confusion) {
  auto matrix = confusion.to(torch::kCPU).view({10, 10});
  auto access = matrix.accessor<int64_t, 2>();
  int64_t correct = 0;
  for (int t = 0; t < 10; ++t) {
    int64_t row_total = 0;
    for (int p = 0; p < 10; ++p) {
      result.confusion[t][p] = access[t][p];
      row_total += access[t][p];
    }
    correct += access[t][t];
    result.per_class_accuracy[t] = row_total > 0 ? static_cast<double>(access[t][t]) / row_total : 0.0;
  }
  result.accuracy = result.n > 0 ? static_cast<double>(correct) / static_cast<double>(result.n) : 0.0;
  return correct;
}

// The `k` most confidently wrong images, most confident first.
std::vector<Mistake> worst_mistakes(const Scorer& scorer, const data::MnistDataset& data,
                                    const torch::Tensor& wrong_confidence, int64_t k) {
  auto [confidence, index] = wrong_confidence.topk(k);
  confidence = confidence.to(torch::kCPU);
  index = index.to(torch::kCPU);
  const auto& images = data.images();
  const auto& targets = data.targets();
  auto labels = targets.index_select(0, index.to(targets.device())).to(torch::kCPU);
  auto predicted = scorer(images.index_select(0, index.to(images.device()))).argmax(1).to(torch::kCPU);
  std::vector<Mistake> mistakes;
  for (int64_t i = 0; i < k; ++i) {
    mistakes.push_back({index[i].item<int64_t>(), labels[i].item<int64_t>(), predicted[i].item<int64_t>(),
                        confidence[i].item<double>()});
  }
  return mistakes;
}

}  // namespace

Evaluation evaluate(const Scorer& scorer, const data::MnistDataset& data, model::Variant variant,
                    const EvaluateOptions& options) {
  c10::InferenceMode inference;
  const int64_t n = data.length();
  const DeviceTotals totals = score_batches(scorer, data, variant, options);
  if (const int64_t bad = totals.non_finite.item<int64_t>(); bad > 0) {
    const std::string prefix = options.model_name.empty() ? "" : options.model_name + ": ";
    throw std::runtime_error(prefix + "the model returns non-finite scores (NaN or infinity) for " +
                             std::to_string(bad) + " of " + std::to_string(n) + " images");
  }
  Evaluation result;
  result.n = n;
  result.loss = n > 0 ? totals.loss_sum.item<double>() / static_cast<double>(n) : 0.0;
  const int64_t correct = fill_confusion(result, totals.confusion);
  if (totals.wrong_confidence.defined()) {
    const int64_t k = std::min<int64_t>(options.worst_mistakes, n - correct);
    result.worst_mistakes = worst_mistakes(scorer, data, totals.wrong_confidence, k);
  }
  return result;
}

Evaluation evaluate(model::LeNet5& model, const data::MnistDataset& data, const EvaluateOptions& options) {
  const bool was_training = model->is_training();
  model->eval();
  auto result = evaluate([&](const torch::Tensor& x) { return model->forward(x); }, data, model->variant(), options);
  model->train(was_training);
  return result;
}

std::string class_label(int64_t label, const std::vector<std::string>& class_names) {
  const std::string& name = class_names[static_cast<size_t>(label)];
  return name == std::to_string(label) ? name : std::to_string(label) + " " + name;
}

std::string format_evaluation(const Evaluation& evaluation, const std::vector<std::string>& class_names) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  out << "accuracy " << 100.0 * evaluation.accuracy << "% (" << evaluation.n << " images, "
      << std::llround(evaluation.accuracy * static_cast<double>(evaluation.n)) << " correct), loss "
      << std::setprecision(4) << evaluation.loss << "\n\n";
  out << "confusion matrix (rows: true class, columns: predicted)\n";
  out << std::setw(14) << "";
  for (int p = 0; p < 10; ++p) out << std::setw(6) << p;
  out << "   accuracy\n";
  for (int t = 0; t < 10; ++t) {
    std::string label = class_label(t, class_names);
    if (label.size() > 13) label.resize(13);
    out << std::left << std::setw(14) << label << std::right;
    for (int p = 0; p < 10; ++p) out << std::setw(6) << evaluation.confusion[t][p];
    out << std::setw(10) << std::setprecision(2) << 100.0 * evaluation.per_class_accuracy[t] << "%\n";
  }
  return out.str();
}

std::string evaluation_json(const Evaluation& evaluation) {
  run_files::EvaluationRecord record;
  record.n = evaluation.n;
  record.accuracy = evaluation.accuracy;
  record.loss = evaluation.loss;
  record.per_class_accuracy.assign(evaluation.per_class_accuracy.begin(), evaluation.per_class_accuracy.end());
  for (const auto& row : evaluation.confusion) record.confusion.emplace_back(row.begin(), row.end());
  for (const auto& m : evaluation.worst_mistakes) record.worst_mistakes.push_back(m);
  return run_files::evaluation_json(record);
}

}  // namespace lenet5::engine
