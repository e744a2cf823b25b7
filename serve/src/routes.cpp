#include "routes.h"

#include <functional>
#include <memory>
#include <vector>

#include "web_page.h"

namespace lenet5::serve {
namespace {

struct Route {
  const char* path;
  const char* method;
};
const std::vector<Route> kRoutes{
    {"/", "GET"}, {"/healthz", "GET"}, {"/metrics", "GET"}, {"/v1/model", "GET"}, {"/v1/predict", "POST"}};

const Route* find_route(const std::string& path) {
  for (const auto& route : kRoutes) {
    if (path == route.path) return &route;
  }
  return nullptr;
}

// Runs `handle`; an HttpError becomes its status, anything else 500, each with {"error": message}.
void answer_errors(httplib::Response& response, const std::function<void()>& handle) {
  try {
    handle();
    return;
  } catch (const HttpError& e) {
    response.status = e.status();
    response.set_content(error_json(e.what()), "application/json");
  } catch (const std::exception& e) {
    response.status = 500;
    response.set_content(error_json(std::string("internal error: ") + e.what()), "application/json");
  }
}

// The body, at most `limit` bytes (413 beyond: the rest is read and dropped, so the connection stays usable);
// for multipart/form-data, the field `image`. A body that stops short (the client stalled past the read
// timeout or went away) is 408.
PredictBody read_body(const httplib::Request& request, httplib::Response& response,
                      const httplib::ContentReader& reader, size_t limit) {
  PredictBody body{request.get_header_value("Content-Type"), {}};
  size_t received = 0;
  bool in_image_field = !request.is_multipart_form_data();
  bool has_image_field = false;
  const auto keep = [&](const char* data, size_t size) {
    received += size;
    if (received <= limit && in_image_field) body.bytes.append(data, size);
    return true;
  };
  bool complete = false;
  if (request.is_multipart_form_data()) {
    complete = reader(
        [&](const httplib::MultipartFormData& part) {
          in_image_field = part.name == "image" && !has_image_field;
          has_image_field = has_image_field || in_image_field;
          body.content_type = part.content_type;
          return true;
        },
        keep);
  } else {
    complete = reader(keep);
  }
  if (received > limit || response.status == 413) {
    throw HttpError(413, "the body is over the limit of " + std::to_string(limit) + " bytes");
  }
  if (!complete) {
    if (request.is_multipart_form_data()) throw HttpError(400, "malformed or incomplete multipart/form-data body");
    if (!request.has_header("Content-Length")) throw HttpError(400, "malformed chunked body");
    throw HttpError(408, "the body stopped after " + std::to_string(received) + " of " +
                             request.get_header_value("Content-Length") + " bytes (read timeout)");
  }
  if (request.is_multipart_form_data() && !has_image_field) {
    throw HttpError(400, "the multipart/form-data body has no field named 'image'");
  }
  return body;
}

void predict(const RouteContext& context, const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader) {
  auto arrival = std::make_unique<DynamicBatcher::Arrival>(context.batcher);
  const PredictBody body = read_body(request, response, reader, context.max_body_bytes);
  const auto top_k = top_k_from_query(request.params, static_cast<int64_t>(context.model.class_names.size()));
  bool preprocess = true;
  const auto picture = picture_from_body(body, preprocess);
  const auto digits = digits_in(picture, preprocess, context.model.preprocess);
  std::vector<deploy::GrayImage> views;
  for (const auto& digit : digits) views.push_back(digit.view);
  std::future<std::vector<Classification>> answer;
  try {
    answer = context.batcher.submit(std::move(views));
  } catch (const std::runtime_error& e) {
    throw HttpError(503, e.what());
  }
  arrival.reset();
  const auto answers = answer.get();
  response.set_content(prediction_json(context.model, digits, answers, top_k).dump(), "application/json");
}

// Known paths answer other methods with 405 (and Allow), unknown ones 404; bodies are read, up to the limit.
void add_fallbacks(httplib::Server& http, const RouteContext& context) {
  const auto refuse = [](const httplib::Request& request, httplib::Response& response) {
    answer_errors(response, [&] {
      const Route* route = find_route(request.path);
      if (!route) throw HttpError(404, default_error_message(request, 404));
      response.set_header("Allow", route->method);
      throw HttpError(405, default_error_message(request, 405));
    });
  };
  const auto refuse_with_body = [context, refuse](const httplib::Request& request, httplib::Response& response,
                                                  const httplib::ContentReader& reader) {
    answer_errors(response, [&] { read_body(request, response, reader, context.max_body_bytes); });
    if (response.status != 413 && response.status != 408) refuse(request, response);
  };
  http.Get(".*", refuse);
  http.Options(".*", refuse);
  http.Post(".*", refuse_with_body);
  http.Put(".*", refuse_with_body);
  http.Patch(".*", refuse_with_body);
  http.Delete(".*", refuse_with_body);
}

}  // namespace

void add_routes(httplib::Server& http, const RouteContext& context) {
  http.Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kWebPage, "text/html; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"status":"ok"})", "application/json");
  });
  http.Get("/metrics", [&metrics = context.metrics](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics.prometheus_text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/v1/model", [&model = context.model](const httplib::Request&, httplib::Response& response) {
    response.set_content(model.metadata.dump(), "application/json");
  });
  http.Post("/v1/predict", [context](const httplib::Request& request, httplib::Response& response,
                                     const httplib::ContentReader& reader) {
    answer_errors(response, [&] { predict(context, request, response, reader); });
  });
  add_fallbacks(http, context);
}

std::string route_label(const std::string& path) { return find_route(path) ? path : "other"; }

std::string default_error_message(const httplib::Request& request, int status) {
  std::string routes;
  for (const auto& route : kRoutes) routes += std::string(routes.empty() ? "" : ", ") + route.method + " " + route.path;
  switch (status) {
    case 404: return "no such route: " + request.path + " (routes: " + routes + ")";
    case 405: return request.method + " is not allowed on " + request.path + " (routes: " + routes + ")";
    case 413: return "the body is over the size limit";
    case 414: return "the request line is too long";
    case 400: return "malformed or incomplete HTTP request";
    default: return "HTTP status " + std::to_string(status);
  }
}

}  // namespace lenet5::serve
