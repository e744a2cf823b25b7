#include "lenet5/serve/metrics.h"

#include <algorithm>
#include <sstream>

namespace lenet5::serve {
namespace {

// Latency buckets from 100 us (one image, XNNPACK) to 10 s (a slow client's upload).
const std::vector<double> kLatencyBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
const std::vector<double> kBatchBounds{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[static_cast<size_t>(bucket)];
  sum_ += value;
  ++count_;
}

std::string Histogram::prometheus_lines(const std::string& name, const std::string& labels) const {
  std::ostringstream out;
  const std::string prefix = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string bound = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out << name << "_bucket{" << prefix << "le=\"" << bound << "\"} " << cumulative << "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out << name << "_sum" << braces << " " << number(sum_) << "\n";
  out << name << "_count" << braces << " " << count_ << "\n";
  return out.str();
}

Metrics::Metrics() : batch_sizes_(kBatchBounds) {}

void Metrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
  latency_.try_emplace(route, kLatencyBounds).first->second.observe(seconds);
}

void Metrics::observe_batch(int64_t images) {
  std::lock_guard<std::mutex> lock(mutex_);
  batch_sizes_.observe(static_cast<double>(images));
}

void Metrics::set_queue_depth(int64_t requests) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_depth_ = requests;
}

std::string Metrics::prometheus_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP lenet5_http_requests_total HTTP requests answered, by route and status.\n"
      << "# TYPE lenet5_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out << "lenet5_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second << "\"} " << count
        << "\n";
  }
  out << "# HELP lenet5_http_request_duration_seconds Time from a request's headers to its answer.\n"
      << "# TYPE lenet5_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : latency_) {
    out << histogram.prometheus_lines("lenet5_http_request_duration_seconds", "route=\"" + route + "\"");
  }
  out << "# HELP lenet5_batch_size Images per forward pass of the dynamic batcher.\n"
      << "# TYPE lenet5_batch_size histogram\n"
      << batch_sizes_.prometheus_lines("lenet5_batch_size", "")
      << "# HELP lenet5_queue_depth Requests waiting for the batcher.\n"
      << "# TYPE lenet5_queue_depth gauge\n"
      << "lenet5_queue_depth " << queue_depth_ << "\n";
  return out.str();
}

}  // namespace lenet5::serve
