#include "report_observer.h"

#include <cstdio>
#include <utility>

#include "lenet5/model/summary.h"

namespace lenet5::app {

std::vector<report::DiagramLayer> diagram_layers(const std::string& variant) {
  model::LeNet5 net(model::parse_variant(variant));
  std::vector<report::DiagramLayer> layers;
  for (const auto& layer : model::summarize(net).layers) {
    layers.push_back({layer.name, layer.type, layer.output_shape, layer.trainable_parameters});
  }
  return layers;
}

report::ReportInputs report_inputs(const std::string& run_dir, const std::string& variant) {
  report::ReportInputs inputs;
  inputs.run_dir = run_dir;
  if (variant.empty()) return inputs;
  inputs.layers = diagram_layers(variant);
  if (model::parse_variant(variant) == model::Variant::kClassic) inputs.c3_table = model::c3_connection_table();
  return inputs;
}

ReportObserver::ReportObserver(std::string variant) : variant_(std::move(variant)) {}

void ReportObserver::on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) {
  inputs_ = report_inputs(run_dir, variant_);
  write();
}

void ReportObserver::on_epoch_end(const engine::EpochMetrics& metrics) { write(); }

void ReportObserver::write() {
  try {
    report::write_report(inputs_);
  } catch (const std::exception& e) {
    if (!warned_) std::fprintf(stderr, "\nlenet5: warning: cannot update the report: %s\n", e.what());
    warned_ = true;
  }
}

FanOutObserver::FanOutObserver(std::vector<engine::TrainObserver*> observers) : observers_(std::move(observers)) {}

void FanOutObserver::on_start(const std::string& run_dir, const std::string& device, int64_t first_epoch) {
  for (auto* o : observers_) o->on_start(run_dir, device, first_epoch);
}
void FanOutObserver::on_progress(const engine::BatchProgress& progress) {
  for (auto* o : observers_) o->on_progress(progress);
}
void FanOutObserver::on_epoch_end(const engine::EpochMetrics& metrics) {
  for (auto* o : observers_) o->on_epoch_end(metrics);
}
void FanOutObserver::on_finish(const engine::TrainResult& result) {
  for (auto* o : observers_) o->on_finish(result);
}

}  // namespace lenet5::app
