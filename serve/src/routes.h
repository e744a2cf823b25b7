// The routes of the API on an httplib::Server (server.cpp configures the rest: limits, threads, metrics).
#pragma once

#include <httplib.h>

#include <string>

#include "lenet5/serve/batcher.h"
#include "lenet5/serve/response.h"

namespace lenet5::serve {

struct RouteContext {
  const ModelInfo& model;
  DynamicBatcher& batcher;
  Metrics& metrics;
  size_t max_body_bytes;
};

void add_routes(httplib::Server& http, const RouteContext& context);

// The route's name for metrics: the path when it is one of ours, else "other".
std::string route_label(const std::string& path);

// The JSON body of an error answer that has none yet (httplib's own 400, 404, 413...).
std::string default_error_message(const httplib::Request& request, int status);

}  // namespace lenet5::serve
