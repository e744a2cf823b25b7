// The HTTP API end to end, in-process: a real exported model behind lenet5::serve::Server on a free port,
// httplib's client (or a raw socket, for what a client library will not send). One case runs the executable,
// for the signals.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_runner.h"
#include "deploy_test_support.h"
#include "lenet5/deploy/export.h"
#include "lenet5/deploy/predict.h"
#include "lenet5/serve/model_classifier.h"
#include "lenet5/serve/server.h"
#include "readme_blocks.h"

extern char** environ;

namespace {

using lenet5::deploy::GrayImage;
using nlohmann::json;
using ::testing::HasSubstr;

// One briefly trained model for the whole suite, exported and loaded back as `lenet5 serve` loads it.
class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (lenet5::testing::mnist_dir().empty()) return;
    folder_ = new lenet5::testing::TempDir;
    model_file_ = folder_->file("model.pt");
    auto net = lenet5::testing::quick_trained_model(lenet5::model::Variant::kModern);
    lenet5::deploy::export_torchscript(net, lenet5::deploy::ExportMetadata{}, model_file_, false);
    model_ = std::make_shared<lenet5::deploy::ExportedModel>(lenet5::deploy::load_exported(model_file_));
    classifier_ = lenet5::serve::model_classifier(model_);
    const lenet5::data::MnistDataset test(lenet5::testing::mnist_dir(), lenet5::data::Split::kTest, 64);
    digits_ = test.images().contiguous();
    labels_ = test.targets();
  }
  static void TearDownTestSuite() {
    model_.reset();
    delete folder_;
  }
  void SetUp() override { LENET5_REQUIRE_MNIST(); }

  // MNIST test image i as the network takes it (ink high, 28x28) and as a picture on paper (dark ink on white,
  // larger, off centre), the way a user would send it.
  static GrayImage mnist_view(int64_t i) {
    GrayImage image(28, 28);
    const float* pixels = digits_[i].data_ptr<float>();
    std::copy(pixels, pixels + 28 * 28, image.pixels.begin());
    return image;
  }
  static GrayImage on_paper(int64_t i) {
    const GrayImage view = mnist_view(i);
    GrayImage paper(90, 70, 1.0f);
    for (int y = 0; y < 56; ++y) {
      for (int x = 0; x < 56; ++x) paper.at(20 + x, 7 + y) = 1.0f - view.at(x / 2, y / 2);
    }
    return paper;
  }
  static std::string png_of(const GrayImage& image) { return lenet5::deploy::encode_image(image, ".png"); }
  static std::string pixels_json(const GrayImage& image, bool preprocess) {
    json rows = json::array();
    for (int y = 0; y < image.height; ++y) {
      json row = json::array();
      for (int x = 0; x < image.width; ++x) row.push_back(image.at(x, y));
      rows.push_back(row);
    }
    return json{{"pixels", rows}, {"preprocess", preprocess}}.dump();
  }
  // What the model says about one image on its own (call before a server starts: the batcher thread owns the
  // model while one runs).
  static lenet5::deploy::Prediction alone(const GrayImage& view) {
    return lenet5::deploy::predict(*model_, {view}).at(0);
  }

  static lenet5::testing::TempDir* folder_;
  static std::string model_file_;
  static std::shared_ptr<lenet5::deploy::ExportedModel> model_;
  static lenet5::serve::Classifier classifier_;
  static torch::Tensor digits_, labels_;
};
lenet5::testing::TempDir* ServeApi::folder_ = nullptr;
std::string ServeApi::model_file_;
std::shared_ptr<lenet5::deploy::ExportedModel> ServeApi::model_;
lenet5::serve::Classifier ServeApi::classifier_;
torch::Tensor ServeApi::digits_, ServeApi::labels_;

// A server on a free port, serving in a thread while the object lives.
class RunningServer {
 public:
  RunningServer(const lenet5::deploy::ExportedModel& model, lenet5::serve::Classifier classify,
                lenet5::serve::ServerOptions options)
      : server_(lenet5::serve::model_info(model), std::move(classify), with_free_port(std::move(options))) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    return client;
  }
  std::string metrics() const { return client().Get("/metrics")->body; }

 private:
  static lenet5::serve::ServerOptions with_free_port(lenet5::serve::ServerOptions options) {
    options.port = 0;
    return options;
  }
  lenet5::serve::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::vector<std::uint8_t> from_base64(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> bytes;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    buffer = buffer << 6 | static_cast<uint32_t>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<std::uint8_t>(buffer >> bits & 0xff));
    }
  }
  return bytes;
}

// The value of a Prometheus line "name value" in `text`; -1 when absent.
double metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

TEST_F(ServeApi, RoutesAnswerTheirContract) {
  RunningServer server(*model_, classifier_, {});
  auto client = server.client();
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->get_header_value("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(page->body, HasSubstr("<html"));
  auto health = client.Get("/healthz");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body), json({{"status", "ok"}}));
  auto model = client.Get("/v1/model");
  EXPECT_EQ(model->status, 200);
  EXPECT_EQ(model->get_header_value("Content-Type"), "application/json");
  const auto metadata = json::parse(model->body);
  EXPECT_EQ(metadata["dataset"], "mnist");
  EXPECT_EQ(metadata["variant"], "modern");
  EXPECT_EQ(metadata["class_names"].size(), 10u);
  EXPECT_EQ(metadata["file"], model_file_);
  EXPECT_EQ(metadata["engines"]["batch_1"], model_->session->engine_for(1));
  const std::string metrics = server.metrics();
  EXPECT_THAT(metrics, HasSubstr("lenet5_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("# TYPE lenet5_batch_size histogram"));
  EXPECT_EQ(metric(metrics, "lenet5_queue_depth"), 0);
}

TEST_F(ServeApi, PredictsPicturesSentAsBodyMultipartOrJson) {
  const lenet5::deploy::PreprocessOptions options;
  std::vector<GrayImage> views;
  std::vector<lenet5::deploy::Prediction> expected;
  for (int64_t i = 0; i < 4; ++i) {
    const auto digits = lenet5::deploy::read_digits(on_paper(i), options);
    ASSERT_EQ(digits.size(), 1u);
    views.push_back(digits[0].view);
    expected.push_back(alone(views.back()));
  }
  const auto raw_expected = alone(mnist_view(4));
  RunningServer server(*model_, classifier_, {});
  auto client = server.client();
  auto check = [&](const httplib::Result& result, const lenet5::deploy::Prediction& want, const GrayImage& view,
                   size_t top_k) {
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
    const auto answer = json::parse(result->body);
    ASSERT_EQ(answer["digits"].size(), 1u);
    const auto& digit = answer["digits"][0];
    EXPECT_EQ(answer["number"], std::to_string(want.label));
    EXPECT_EQ(digit["label"], want.label);
    EXPECT_EQ(digit["name"], std::to_string(want.label));
    const auto probabilities = digit["probabilities"].get<std::vector<float>>();
    ASSERT_EQ(probabilities.size(), 10u);
    for (size_t c = 0; c < 10; ++c) EXPECT_NEAR(probabilities[c], want.probabilities[c], 1e-5);
    EXPECT_FLOAT_EQ(digit["probability"].get<float>(), probabilities[static_cast<size_t>(want.label)]);
    ASSERT_EQ(digit["top_k"].size(), top_k);
    EXPECT_EQ(digit["top_k"][0]["label"], want.label);
    for (size_t k = 1; k < top_k; ++k) {
      EXPECT_GE(digit["top_k"][k - 1]["probability"].get<float>(), digit["top_k"][k]["probability"].get<float>());
    }
    const auto png = from_base64(digit["view_png"].get<std::string>());
    const auto seen = lenet5::deploy::decode_image(png, "view_png");
    ASSERT_EQ(seen.width, 28);
    ASSERT_EQ(seen.height, 28);
    for (size_t p = 0; p < seen.pixels.size(); ++p) ASSERT_NEAR(seen.pixels[p], view.pixels[p], 0.5 / 255 + 1e-6);
  };
  check(client.Post("/v1/predict", png_of(on_paper(0)), "image/png"), expected[0], views[0], 3);
  check(client.Post("/v1/predict?top_k=10", png_of(on_paper(1)), "application/octet-stream"), expected[1], views[1],
        10);
  const httplib::MultipartFormDataItems form{{"note", "hello", "", "text/plain"},
                                             {"image", png_of(on_paper(2)), "digit.png", "image/png"}};
  check(client.Post("/v1/predict?top_k=1", form), expected[2], views[2], 1);
  check(client.Post("/v1/predict", pixels_json(on_paper(3), true), "application/json"), expected[3], views[3], 3);
  // Without preprocessing, the pixels are the network's input as they are.
  check(client.Post("/v1/predict", pixels_json(mnist_view(4), false), "application/json"), raw_expected, mnist_view(4),
        3);
}

// Keep-alive requests are answered at once: with Nagle's algorithm on, each answer's body waited for the
// client's delayed ACK of its headers (about 40 ms on Linux; 1,100 instead of 7,000 requests/s).
TEST_F(ServeApi, KeepAliveAnswersDoNotWaitForDelayedAcks) {
  RunningServer server(*model_, classifier_, {});
  auto client = server.client();
  client.set_keep_alive(true);
  std::vector<double> milliseconds;
  for (int i = 0; i < 21; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(client.Get("/healthz")->status, 200);
    milliseconds.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(milliseconds.begin(), milliseconds.begin() + 10, milliseconds.end());
  EXPECT_LT(milliseconds[10], 20) << "median of 21 requests on one connection, ms";
}

// A picture of several digits side by side: one answer per digit, left to right, and the whole number.
TEST_F(ServeApi, ReadsANumberDigitByDigit) {
  GrayImage paper(200, 70, 1.0f);
  for (int digit = 0; digit < 3; ++digit) {
    const GrayImage view = mnist_view(digit);
    for (int y = 0; y < 56; ++y) {
      for (int x = 0; x < 56; ++x) paper.at(10 + 62 * digit + x, 7 + y) = 1.0f - view.at(x / 2, y / 2);
    }
  }
  const auto digits = lenet5::deploy::read_digits(paper, lenet5::deploy::PreprocessOptions{});
  ASSERT_EQ(digits.size(), 3u);
  std::vector<lenet5::deploy::Prediction> expected;
  std::string number;
  for (const auto& digit : digits) {
    expected.push_back(alone(digit.view));
    number += std::to_string(expected.back().label);
  }
  RunningServer server(*model_, classifier_, {});
  auto result = server.client().Post("/v1/predict", png_of(paper), "image/png");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const auto answer = json::parse(result->body);
  EXPECT_EQ(answer["number"], number);
  ASSERT_EQ(answer["digits"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& digit = answer["digits"][i];
    EXPECT_EQ(digit["label"], expected[i].label);
    EXPECT_EQ(digit["box"],
              json({{"x", digits[i].x}, {"y", digits[i].y}, {"width", digits[i].width}, {"height", digits[i].height}}));
    EXPECT_NEAR(digit["probability"].get<float>(), expected[i].probabilities[static_cast<size_t>(expected[i].label)],
                1e-5);
    if (i > 0) {
      EXPECT_GT(digit["box"]["x"].get<int>(), answer["digits"][i - 1]["box"]["x"].get<int>());
    }
  }
}

// Requests sent at once share forward passes, and each gets what the model says about its image alone.
TEST_F(ServeApi, BatchedAnswersEqualOneByOneUnderManyConcurrentClients) {
  constexpr int kClients = 48;
  std::vector<lenet5::deploy::Prediction> expected;
  for (int i = 0; i < kClients; ++i) expected.push_back(alone(mnist_view(i)));
  lenet5::serve::ServerOptions options;
  options.batching = {64, std::chrono::milliseconds(50)};
  RunningServer server(*model_, classifier_, options);
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  std::vector<json> answers(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto client = server.client();
      for (int round = 0; round < 2; ++round) {
        auto result = client.Post("/v1/predict", pixels_json(mnist_view(i), false), "application/json");
        if (result && result->status == 200) {
          answers[static_cast<size_t>(i)] = json::parse(result->body)["digits"][0];
          ++answered;
        } else {
          ADD_FAILURE() << "round " << round << ": " << (result ? result->body : httplib::to_string(result.error()));
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  ASSERT_EQ(answered, 2 * kClients);
  for (int i = 0; i < kClients; ++i) {
    const auto& answer = answers[static_cast<size_t>(i)];
    EXPECT_EQ(answer["label"], expected[static_cast<size_t>(i)].label) << "image " << i;
    const auto probabilities = answer["probabilities"].get<std::vector<float>>();
    for (size_t c = 0; c < 10; ++c) {
      EXPECT_NEAR(probabilities[c], expected[static_cast<size_t>(i)].probabilities[c], 1e-5) << "image " << i;
    }
  }
  const std::string metrics = server.metrics();
  EXPECT_EQ(metric(metrics, "lenet5_batch_size_sum"), 2 * kClients);
  EXPECT_LT(metric(metrics, "lenet5_batch_size_count"), 2 * kClients) << "no two requests shared a forward pass";
}

TEST_F(ServeApi, MaxBatchOneRunsEveryRequestAlone) {
  lenet5::serve::ServerOptions options;
  options.batching = {1, std::chrono::milliseconds(50)};
  RunningServer server(*model_, classifier_, options);
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      EXPECT_EQ(server.client().Post("/v1/predict", pixels_json(mnist_view(i), false), "application/json")->status,
                200);
    });
  }
  for (auto& client : clients) client.join();
  const std::string metrics = server.metrics();
  EXPECT_EQ(metric(metrics, "lenet5_batch_size_count"), 8);
  EXPECT_THAT(metrics, HasSubstr("lenet5_batch_size_bucket{le=\"1\"} 8\n"));
}

// --- hostile input ---

// A raw connection to the server, for requests no client library sends.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) ADD_FAILURE() << "connect";
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawConnection() { ::close(fd_); }
  void send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
  // Everything until the server closes the connection (or 10 s pass).
  std::string receive_all() {
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0;) text.append(buffer, static_cast<size_t>(n));
    return text;
  }

 private:
  int fd_;
};

// A PNG whose header claims `width` x `height` pixels, followed by a few bytes of nothing.
std::string png_claiming(uint32_t width, uint32_t height) {
  GrayImage small(2, 2, 0.5f);
  std::string png = lenet5::deploy::encode_image(small, ".png");
  for (int i = 0; i < 4; ++i) {
    png[16 + static_cast<size_t>(i)] = static_cast<char>(width >> (24 - 8 * i) & 0xff);
    png[20 + static_cast<size_t>(i)] = static_cast<char>(height >> (24 - 8 * i) & 0xff);
  }
  return png;
}

TEST_F(ServeApi, HostileRequestsGetJsonErrorsAndTheServerKeepsServing) {
  lenet5::serve::ServerOptions options;
  options.max_body_bytes = 64 * 1024;
  RunningServer server(*model_, classifier_, options);
  auto client = server.client();
  const std::string good = png_of(on_paper(0));
  const std::string truncated_png = good.substr(0, good.size() / 2);
  struct Case {
    std::string name;
    std::function<httplib::Result(httplib::Client&)> send;
    int status;
    std::string message;
  };
  const std::vector<Case> cases{
      {"body over the limit",
       [](auto& c) { return c.Post("/v1/predict", std::string(64 * 1024 + 1, 'x'), "image/png"); }, 413,
       "over the limit of 65536 bytes"},
      {"chunked body over the limit",
       [](auto& c) {
         return c.Post(
             "/v1/predict",
             [sent = 0](size_t, httplib::DataSink& sink) mutable {
               if (sent++ < 100) return sink.write(std::string(1024, 'x').data(), 1024);
               sink.done();
               return true;
             },
             "image/png");
       },
       413, "over the limit"},
      {"PNG claiming 60000x60000",
       [](auto& c) { return c.Post("/v1/predict", png_claiming(60000, 60000), "image/png"); }, 422, "image"},
      {"PNG claiming 5000x5000", [](auto& c) { return c.Post("/v1/predict", png_claiming(5000, 5000), "image/png"); },
       422, "image"},
      {"truncated PNG", [&](auto& c) { return c.Post("/v1/predict", truncated_png, "image/png"); }, 422,
       "truncated PNG"},
      {"not a picture", [](auto& c) { return c.Post("/v1/predict", "hello", "image/png"); }, 422, "unknown format"},
      {"a blank picture", [](auto& c) { return c.Post("/v1/predict", png_of(GrayImage(30, 30, 1.0f)), "image/png"); },
       422, "blank"},
      {"empty body", [](auto& c) { return c.Post("/v1/predict", "", "image/png"); }, 400, "empty body"},
      {"broken JSON", [](auto& c) { return c.Post("/v1/predict", "{\"pixels\": [[", "application/json"); }, 400,
       "not valid JSON"},
      {"JSON of the wrong shape",
       [](auto& c) { return c.Post("/v1/predict", R"({"pixels": [[0, 1], [1]]})", "application/json"); }, 400, "row 1"},
      {"JSON of the wrong type",
       [](auto& c) { return c.Post("/v1/predict", R"({"pixels": "7"})", "application/json"); }, 400, "'pixels'"},
      {"unprocessed JSON not 28x28",
       [](auto& c) {
         return c.Post("/v1/predict", R"({"pixels": [[0, 1]], "preprocess": false})", "application/json");
       },
       400, "must be 28x28"},
      {"multipart without the image field",
       [&](auto& c) {
         return c.Post("/v1/predict", httplib::MultipartFormDataItems{{"file", good, "a.png", "image/png"}});
       },
       400, "no field named 'image'"},
      {"bad top_k", [&](auto& c) { return c.Post("/v1/predict?top_k=zero", good, "image/png"); }, 400, "top_k"},
      {"unknown route", [](auto& c) { return c.Get("/v2/predict"); }, 404, "no such route: /v2/predict"},
      {"wrong method", [](auto& c) { return c.Get("/v1/predict"); }, 405, "GET is not allowed on /v1/predict"},
      {"wrong method with a body", [&](auto& c) { return c.Put("/healthz", good, "image/png"); }, 405,
       "PUT is not allowed on /healthz"},
  };
  for (const auto& each : cases) {
    auto result = each.send(client);
    ASSERT_TRUE(result) << each.name << ": " << httplib::to_string(result.error());
    EXPECT_EQ(result->status, each.status) << each.name << ": " << result->body;
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json") << each.name;
    const auto body = json::parse(result->body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << each.name << ": " << result->body;
    EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(each.message)) << each.name;
    EXPECT_EQ(client.Post("/v1/predict", good, "image/png")->status, 200) << "after " << each.name;
  }
  EXPECT_EQ(client.Delete("/v1/predict")->get_header_value("Allow"), "POST");
  RawConnection garbage(server.port());
  garbage.send("NONSENSE\r\n\r\n");
  const std::string answer = garbage.receive_all();
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 400 Bad Request"));
  EXPECT_THAT(answer, HasSubstr(R"({"error":"malformed or incomplete HTTP request"})"));
  EXPECT_THAT(server.metrics(), HasSubstr("lenet5_http_requests_total{route=\"/v1/predict\",status=\"413\"} 2\n"));
  EXPECT_EQ(client.Post("/v1/predict", good, "image/png")->status, 200);
}

// A client that stops sending in its body gets 408 after the read timeout; one that stops in its headers gets
// 400 (httplib cannot tell that from malformed headers). Neither holds the server: with two connection threads, others
// are served meanwhile and after.
TEST_F(ServeApi, SlowClientsAreCutOffAndOthersAreServed) {
  lenet5::serve::ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(300);
  options.http_threads = 2;
  RunningServer server(*model_, classifier_, options);
  RawConnection slow_body(server.port()), slow_headers(server.port());
  slow_body.send(
      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n0123456789");
  slow_headers.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Len");
  const auto start = std::chrono::steady_clock::now();
  const std::string body_answer = slow_body.receive_all();
  EXPECT_THAT(body_answer, HasSubstr("HTTP/1.1 408"));
  EXPECT_THAT(body_answer, HasSubstr(R"j({"error":"the body stopped after 10 of 1000 bytes (read timeout)"})j"));
  const std::string headers_answer = slow_headers.receive_all();
  EXPECT_THAT(headers_answer, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(headers_answer, HasSubstr(R"({"error":"malformed or incomplete HTTP request"})"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_EQ(server.client().Post("/v1/predict", png_of(on_paper(0)), "image/png")->status, 200);
}

TEST_F(ServeApi, BindFailuresSayWhy) {
  RunningServer first(*model_, classifier_, {});
  lenet5::serve::ServerOptions taken;
  taken.port = first.port();
  lenet5::serve::Server second(lenet5::serve::model_info(*model_), classifier_, taken);
  try {
    second.bind();
    ADD_FAILURE() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot listen on 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
  }
  lenet5::serve::ServerOptions elsewhere;
  elsewhere.host = "192.0.2.1";  // TEST-NET-1: on no machine's interface
  lenet5::serve::Server third(lenet5::serve::model_info(*model_), classifier_, elsewhere);
  EXPECT_THROW(third.bind(), std::runtime_error);
}

TEST_F(ServeApi, CommandLineErrorsAreOneLineWithTheirExitCode) {
  RunningServer first(*model_, classifier_, {});
  const std::string port = std::to_string(first.port());
  using lenet5::testing::run_cli_line;
  auto outcome = run_cli_line("serve --model " + model_file_ + " --port " + port);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.err, "lenet5: error: cannot listen on 127.0.0.1:" + port + ": Address already in use\n");
  outcome = run_cli_line("serve --model " + model_file_ + " --port 0 --host 'no such host'");
  EXPECT_EQ(outcome.code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("lenet5: error: --host 'no such host': "));
  outcome = run_cli_line("serve --model " + folder_->file("missing.pt"));
  EXPECT_EQ(outcome.code, 1);
  EXPECT_THAT(outcome.err, HasSubstr("missing.pt"));
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  for (const std::string flags : {"--port 65536", "--max-batch 0", "--max-delay-us -1", "--http-threads 0"}) {
    outcome = run_cli_line("serve --model " + model_file_ + " " + flags);
    EXPECT_EQ(outcome.code, 2) << flags;
    EXPECT_THAT(outcome.err, HasSubstr(flags.substr(0, flags.find(' ')))) << flags;
  }
}

// `lenet5 serve` as a process of its own, its output in a file; the port is read from the URL it prints.
class ServeProcess {
 public:
  ServeProcess(std::vector<std::string> arguments, const std::string& log) : log_(log) {
    arguments.insert(arguments.begin(), LENET5_BINARY);
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    for (int wait = 0; wait < 600 && port_ == 0 && pid_ > 0; ++wait) {  // up to 60 s on a loaded machine
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const auto at = output().find("http://127.0.0.1:");
      if (at != std::string::npos) port_ = std::stoi(output().substr(at + 17));
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !ended_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string output() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Sends SIGTERM and returns the wait status.
  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ended_ = true;
    return status;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool ended_ = false;
};

// The executable: SIGTERM while a request is half received; that request is answered, then exit 0.
TEST_F(ServeApi, SigtermDrainsTheRequestInFlightAndExitsZero) {
  ServeProcess serve({"serve", "--model", model_file_, "--port", "0"}, folder_->file("serve.log"));
  ASSERT_NE(serve.port(), 0) << "no URL printed: " << serve.output();
  const std::string png = png_of(on_paper(0));
  RawConnection in_flight(serve.port());
  in_flight.send(
      "POST /v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: image/png\r\n"
      "Content-Length: " +
      std::to_string(png.size()) + "\r\n\r\n" + png.substr(0, 40));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::thread terminate([&] { EXPECT_EQ(serve.terminate(), 0) << "wait status"; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  in_flight.send(png.substr(40));
  const std::string answer = in_flight.receive_all();
  terminate.join();
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(answer, HasSubstr("\"digits\":[{"));
  EXPECT_THAT(serve.output(), HasSubstr("lenet5: stopped"));
  EXPECT_FALSE(httplib::Client("127.0.0.1", serve.port()).Get("/healthz"));
}

// README, "Serving": the server's command (on a free port instead of 8080) and the curl commands as printed.
TEST_F(ServeApi, ReadmeCommandsWorkAsPrinted) {
  const std::string readme = lenet5::testing::read_text(std::string(LENET5_SOURCE_DIR) + "/README.md");
  const auto serve_blocks = lenet5::testing::fenced_blocks(readme, "sh", "## Serving");
  ASSERT_EQ(serve_blocks.size(), 1u);
  std::string command = serve_blocks[0].substr(0, serve_blocks[0].find('#'));
  ASSERT_EQ(command.rfind("lenet5 serve --model model.pt --port 8080", 0), 0u) << command;
  command.replace(command.find("model.pt"), 8, model_file_);
  command.replace(command.find("--port 8080"), 11, "--port 0");
  auto words = lenet5::testing::shell_words(command.substr(0, command.find_last_not_of(' ') + 1));
  words.erase(words.begin());  // "lenet5"
  ServeProcess serve(words, folder_->file("readme-serve.log"));
  ASSERT_NE(serve.port(), 0) << "no URL printed: " << serve.output();

  const auto curl_blocks = lenet5::testing::fenced_blocks(readme, "sh", "### The API");
  ASSERT_EQ(curl_blocks.size(), 1u);
  const std::string digit = png_of(on_paper(0));
  lenet5::testing::write_file(folder_->file("digit.png"), std::vector<std::uint8_t>(digit.begin(), digit.end()));
  std::istringstream lines(curl_blocks[0]);
  int commands = 0;
  for (std::string line; std::getline(lines, line); ++commands) {
    const std::string printed = "http://127.0.0.1:8080";
    ASSERT_NE(line.find(printed), std::string::npos) << line;
    line.replace(line.find(printed), printed.size(), "http://127.0.0.1:" + std::to_string(serve.port()));
    const auto result = lenet5::testing::run_shell("cd '" + folder_->path() + "' && " + line);
    ASSERT_EQ(result.exit_code, 0) << line;
    if (line.find("/metrics") != std::string::npos) {
      EXPECT_THAT(result.output, HasSubstr("lenet5_http_requests_total{route=\"/v1/predict\",status=\"200\"}"));
      continue;
    }
    const auto answer = json::parse(result.output, nullptr, false);
    ASSERT_TRUE(answer.is_object()) << line << ": " << result.output;
    EXPECT_FALSE(answer.contains("error")) << line << ": " << result.output;
    if (line.find("/v1/predict") != std::string::npos) {
      EXPECT_EQ(answer["digits"].size(), 1u) << line << ": " << result.output;
    }
  }
  EXPECT_EQ(commands, 6);
  const int status = serve.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
