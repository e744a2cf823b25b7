// `lenet5 serve`: the HTTP server (cpp-httplib) in front of one DynamicBatcher. Routes (README, "Serving"):
// GET / (the web page), GET /healthz, GET /metrics, GET /v1/model, POST /v1/predict.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "lenet5/serve/batcher.h"
#include "lenet5/serve/metrics.h"
#include "lenet5/serve/response.h"

namespace httplib {
class Server;
}

namespace lenet5::serve {

inline constexpr size_t kDefaultMaxBodyBytes = 8u << 20;  // a phone photo as JPEG fits

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: a free port, chosen by the system
  int http_threads = 64;
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  std::chrono::milliseconds read_timeout{5000};  // a client silent this long in its request is cut off
  std::chrono::seconds keep_alive_timeout{2};    // an idle connection is closed after this (and on shutdown)
  BatcherOptions batching;
};

class Server {
 public:
  Server(ModelInfo model, Classifier classify, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port. A host that does not resolve throws std::invalid_argument, any other
  // failure (the port in use, an address not on this machine) std::runtime_error, each one line naming it.
  int bind();
  // Serves until stop(); then lets the requests in progress finish, runs what the batcher holds and returns.
  void run();
  // Asks run() to end; from any thread (not from a signal handler), before or while run() runs.
  void stop();

  std::string url() const;  // http://host:port/
  Metrics& metrics() { return metrics_; }

 private:
  void configure();
  void stop_when_asked();

  ModelInfo model_;
  ServerOptions options_;
  int port_ = -1;
  Metrics metrics_;
  DynamicBatcher batcher_;
  std::unique_ptr<httplib::Server> http_;
  std::mutex mutex_;
  std::condition_variable stop_asked_;
  bool stop_requested_ = false;
  std::atomic<bool> listen_ended_{false};
};

}  // namespace lenet5::serve
