#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.h"
#include "lenet5/deploy/exported_model.h"
#include "lenet5/engine/device.h"
#include "lenet5/engine/stop_signals.h"
#include "lenet5/engine/threads.h"
#include "lenet5/serve/model_classifier.h"
#include "lenet5/serve/server.h"
#include "lenet5/text/printable.h"

namespace lenet5::app {
namespace {

struct ServeOptions {
  std::string model;
  std::string device = "auto";
  int threads = engine::kDefaultThreads;
  serve::ServerOptions server;
  int64_t max_delay_us = 2000;
};

// Serves until SIGINT or SIGTERM, then lets the requests in progress finish and returns (exit 0). A second
// signal ends the process at once (StopOnSignals).
void serve_until_signalled(serve::Server& server, const std::string& model) {
  engine::StopOnSignals signals;
  std::atomic<bool> ended{false};
  std::thread watcher([&] {
    while (!signals.flag() && !ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    server.stop();
  });
  std::cout << "lenet5: serving " << text::printable(model) << " at " << server.url() << " (Ctrl-C stops)" << std::endl;
  server.run();
  ended = true;
  watcher.join();
  std::cout << "lenet5: stopped" << std::endl;
}

void run_serve(ServeOptions options) {
  engine::set_cpu_threads(options.threads);
  const torch::Device device = engine::resolve_device(options.device);
  auto model = std::make_shared<deploy::ExportedModel>(deploy::load_exported(options.model, device));
  auto classify = serve::model_classifier(model);
  options.server.batching.max_delay = std::chrono::microseconds(options.max_delay_us);
  serve::Server server(serve::model_info(*model), std::move(classify), options.server);
  server.bind();
  serve_until_signalled(server, options.model);
}

}  // namespace

void setup_serve(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "Serve an exported model over HTTP: a JSON API and a page to draw digits on");
  sub->add_option("--model", options->model, "Exported TorchScript model (lenet5 export)")->required();
  sub->add_option("--host", options->server.host, "Address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  sub->add_option("--port", options->server.port, "Port to listen on (0: a free one, printed)")
      ->check(whole_number(0, 65535))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "CPU threads of every inference pool (0: one per core)")
      ->check(whole_number(0, kMaxThreads))
      ->capture_default_str();
  sub->add_option("--http-threads", options->server.http_threads, "Connections served at once")
      ->check(whole_number(1, kMaxThreads))
      ->capture_default_str();
  sub->add_option("--max-batch", options->server.batching.max_batch,
                  "Most images per forward pass of the dynamic batcher (1: no batching)")
      ->check(whole_number(1, kMaxServeBatch))
      ->capture_default_str();
  sub->add_option("--max-delay-us", options->max_delay_us,
                  "Longest a request waits for others to join its batch, in microseconds")
      ->check(whole_number(0, kMaxServeDelayMicroseconds))
      ->capture_default_str();
  add_device_option(*sub, options->device);
  sub->callback([options] { run_serve(*options); });
}

}  // namespace lenet5::app
