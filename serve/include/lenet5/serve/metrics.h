// What `GET /metrics` reports, in Prometheus' text format: requests by route and status, their latency, the
// images per forward pass and the requests waiting for the batcher. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lenet5::serve {

// A cumulative histogram: counts of observations at or below each bound, their sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // The _bucket, _sum and _count lines of `name`; `labels` ("route=\"/x\"" or "") go into every line.
  std::string prometheus_lines(const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; the last one is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // One answered request: `route` is one of the server's routes or "other" (so that clients cannot grow the
  // label set), `seconds` from its headers read to its answer.
  void count_request(const std::string& route, int status, double seconds);
  void observe_batch(int64_t images);  // one forward pass
  void set_queue_depth(int64_t requests);

  std::string prometheus_text() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  Histogram batch_sizes_;
  int64_t queue_depth_ = 0;
};

}  // namespace lenet5::serve
