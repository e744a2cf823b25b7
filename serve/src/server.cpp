#include "lenet5/serve/server.h"

#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "routes.h"

namespace lenet5::serve {
namespace {

// Why binding host:port failed, found by trying it again ourselves (httplib says only that it failed).
// A host that does not resolve is a bad --host (std::invalid_argument); the rest is std::runtime_error.
[[noreturn]] void throw_bind_failure(const std::string& host, int port) {
  const std::string where = "cannot listen on " + host + ":" + std::to_string(port) + ": ";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int resolved = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (resolved != 0) {
    throw std::invalid_argument("--host '" + host + "': " + ::gai_strerror(resolved));
  }
  std::string reason = "unknown error";
  for (addrinfo* address = found; address; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (fd < 0) {
      reason = std::strerror(errno);
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    const bool bound = ::bind(fd, address->ai_addr, address->ai_addrlen) == 0;
    reason = bound ? "the server could not start there" : std::strerror(errno);
    ::close(fd);
    if (!bound) break;
  }
  ::freeaddrinfo(found);
  throw std::runtime_error(where + reason);
}

// httplib 0.11 listens with a backlog of 5: 64 clients connecting at once overflow it, and the kernel drops
// their handshakes (clients then fail or wait a second to retry). Listening again on the bound socket widens it.
class WideBacklogServer : public httplib::Server {
 public:
  void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

// The time a request's routing began, per worker thread (one request at a time each), for its latency.
thread_local std::chrono::steady_clock::time_point request_started;
thread_local bool request_timed = false;

}  // namespace

Server::Server(ModelInfo model, Classifier classify, ServerOptions options)
    : model_(std::move(model)),
      options_(std::move(options)),
      batcher_(std::move(classify), options_.batching, &metrics_),
      http_(std::make_unique<WideBacklogServer>()) {
  configure();
}

Server::~Server() {
  stop();
  batcher_.stop();
}

void Server::configure() {
  // httplib's default also sets SO_REUSEPORT, with which a second server on a port in use starts silently and
  // shares its connections; SO_REUSEADDR alone lets a restart reuse the port while old connections linger.
  http_->set_socket_options([](socket_t socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // A response goes out as headers then body: with Nagle's algorithm the body waits for the client's delayed
  // ACK of the headers, 40 ms on Linux, on every keep-alive request.
  http_->set_tcp_nodelay(true);
  const int threads = options_.http_threads;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(options_.read_timeout);
  http_->set_write_timeout(options_.read_timeout);
  http_->set_keep_alive_timeout(options_.keep_alive_timeout.count());
  http_->set_keep_alive_max_count(1000);
  http_->set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_started = std::chrono::steady_clock::now();
    request_timed = true;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Counted before the answer is written (httplib's logger runs after): a client that has its answer finds it in
  // /metrics, whichever connection and thread serve the next request.
  http_->set_post_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    const double seconds =
        request_timed ? std::chrono::duration<double>(std::chrono::steady_clock::now() - request_started).count() : 0;
    request_timed = false;
    metrics_.count_request(route_label(request.path), response.status, seconds);
  });
  // httplib's own refusals (malformed request 400, over-long line 414, body over the limit 413...) as JSON.
  http_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        response.set_content(error_json(default_error_message(request, response.status)), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message += std::string(": ") + e.what();
    } catch (...) {
    }
    response.status = 500;
    response.set_content(error_json(message), "application/json");
  });
  add_routes(*http_, RouteContext{model_, batcher_, metrics_, options_.max_body_bytes});
}

int Server::bind() {
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else if (http_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) throw_bind_failure(options_.host, options_.port);
  static_cast<WideBacklogServer&>(*http_).widen_backlog();
  return port_;
}

void Server::run() {
  if (port_ <= 0) bind();
  std::thread stopper([this] { stop_when_asked(); });
  http_->listen_after_bind();  // returns once stopped, after the worker threads finished their connections
  listen_ended_ = true;
  stop();
  stopper.join();
  batcher_.stop();
}

void Server::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
  }
  stop_asked_.notify_all();
}

// httplib's stop() does nothing before its accept loop runs, so it is called once that loop is up.
void Server::stop_when_asked() {
  std::unique_lock<std::mutex> lock(mutex_);
  stop_asked_.wait(lock, [this] { return stop_requested_; });
  lock.unlock();
  while (!listen_ended_ && !http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!listen_ended_) http_->stop();
}

std::string Server::url() const {
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port_) + "/";
}

}  // namespace lenet5::serve
