// The server's torch-free parts: the dynamic batcher (with a stand-in classifier), request parsing, the
// Prometheus text and base64.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "lenet5/serve/batcher.h"
#include "lenet5/serve/metrics.h"
#include "lenet5/serve/request.h"
#include "lenet5/serve/response.h"
#include "lenet5/text/base64.h"

namespace {

using lenet5::deploy::GrayImage;
using lenet5::serve::BatcherOptions;
using lenet5::serve::Classification;
using lenet5::serve::DynamicBatcher;
using lenet5::serve::HttpError;
using ::testing::HasSubstr;

// Labels each image with its first pixel (so answers can be traced to their images) and records pass sizes.
struct RecordingClassifier {
  std::mutex mutex;
  std::vector<size_t> passes;
  std::vector<Classification> operator()(const std::vector<GrayImage>& images) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      passes.push_back(images.size());
    }
    std::vector<Classification> answers;
    for (const auto& image : images) answers.push_back({static_cast<int64_t>(image.pixels[0]), {1.0f}});
    return answers;
  }
};

GrayImage tagged(int tag) { return GrayImage(28, 28, static_cast<float>(tag)); }

lenet5::serve::Classifier recording(RecordingClassifier& recorder) {
  return [&recorder](const std::vector<GrayImage>& images) { return recorder(images); };
}

TEST(DynamicBatcher, ConcurrentRequestsShareForwardPassesAndGetTheirOwnAnswers) {
  RecordingClassifier recorder;
  lenet5::serve::Metrics metrics;
  DynamicBatcher batcher(recording(recorder), BatcherOptions{8, std::chrono::milliseconds(200)}, &metrics);
  constexpr int kClients = 24;
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  std::vector<std::unique_ptr<DynamicBatcher::Arrival>> arrivals;
  for (int client = 0; client < kClients; ++client)
    arrivals.push_back(std::make_unique<DynamicBatcher::Arrival>(batcher));
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client, arrival = std::move(arrivals[static_cast<size_t>(client)])]() mutable {
      auto answer = batcher.submit({tagged(client), tagged(client + 100)});
      arrival.reset();
      const auto answers = answer.get();
      if (answers.size() != 2 || answers[0].label != client || answers[1].label != client + 100) ++wrong;
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(wrong, 0);
  size_t images = 0;
  for (size_t pass : recorder.passes) {
    EXPECT_LE(pass, 8u);
    images += pass;
  }
  EXPECT_EQ(images, 2u * kClients);
  EXPECT_LT(recorder.passes.size(), static_cast<size_t>(kClients)) << "no two requests shared a pass";
  EXPECT_THAT(metrics.prometheus_text(), HasSubstr("lenet5_batch_size_sum " + std::to_string(2 * kClients)));
}

// A request alone does not wait for company; with another on its way it waits for it (up to max_delay).
TEST(DynamicBatcher, WaitsOnlyForRequestsOnTheirWay) {
  RecordingClassifier recorder;
  DynamicBatcher batcher(recording(recorder), BatcherOptions{64, std::chrono::seconds(30)});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(batcher.submit({tagged(1)}).get().at(0).label, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto first = std::make_unique<DynamicBatcher::Arrival>(batcher);
  auto second = std::make_unique<DynamicBatcher::Arrival>(batcher);
  auto answer = batcher.submit({tagged(2)});
  first.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout) << "did not wait for the second";
  auto other = batcher.submit({tagged(3)});
  second.reset();
  EXPECT_EQ(answer.get().at(0).label, 2);
  EXPECT_EQ(other.get().at(0).label, 3);
  EXPECT_EQ(recorder.passes, (std::vector<size_t>{1, 2}));
}

TEST(DynamicBatcher, MaxBatchOneRunsEachImageAlone) {
  RecordingClassifier recorder;
  DynamicBatcher batcher(recording(recorder), BatcherOptions{1, std::chrono::milliseconds(200)});
  std::vector<std::thread> clients;
  for (int client = 0; client < 6; ++client) {
    clients.emplace_back([&, client] { EXPECT_EQ(batcher.submit({tagged(client)}).get().at(0).label, client); });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(recorder.passes, std::vector<size_t>(6, 1));
}

TEST(DynamicBatcher, ARequestLargerThanMaxBatchRunsInSeveralPasses) {
  RecordingClassifier recorder;
  DynamicBatcher batcher(recording(recorder), BatcherOptions{4, std::chrono::microseconds(0)});
  std::vector<GrayImage> images;
  for (int i = 0; i < 10; ++i) images.push_back(tagged(i));
  const auto answers = batcher.submit(images).get();
  ASSERT_EQ(answers.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(answers[static_cast<size_t>(i)].label, i);
  EXPECT_EQ(recorder.passes, (std::vector<size_t>{4, 4, 2}));
}

TEST(DynamicBatcher, AFailingClassifierFailsItsBatchOnlyAndTheBatcherGoesOn) {
  std::atomic<int> calls{0};
  DynamicBatcher batcher(
      [&](const std::vector<GrayImage>& images) -> std::vector<Classification> {
        if (calls++ == 0) throw std::runtime_error("model.pt: scores are not finite");
        return std::vector<Classification>(images.size(), Classification{3, {1.0f}});
      },
      BatcherOptions{4, std::chrono::microseconds(0)});
  auto failed = batcher.submit({tagged(1)});
  EXPECT_THROW(failed.get(), std::runtime_error);
  EXPECT_EQ(batcher.submit({tagged(2)}).get().at(0).label, 3);
}

TEST(DynamicBatcher, StopRunsWhatIsQueuedThenRefusesNewWork) {
  RecordingClassifier recorder;
  auto batcher = std::make_unique<DynamicBatcher>(recording(recorder), BatcherOptions{64, std::chrono::seconds(30)});
  DynamicBatcher::Arrival never_comes(*batcher);
  auto pending = batcher->submit({tagged(5)});  // would wait 30 s for the request on its way
  const auto start = std::chrono::steady_clock::now();
  batcher->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(pending.get().at(0).label, 5);
  EXPECT_THROW(batcher->submit({tagged(6)}), std::runtime_error);
}

// --- request parsing ---

lenet5::serve::PredictBody json_body(const std::string& text) { return {"application/json", text}; }

int status_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 200;
}

TEST(PredictRequest, JsonPixelsInZeroOneOrZeroTo255) {
  bool preprocess = false;
  auto picture = lenet5::serve::picture_from_body(json_body(R"({"pixels": [[0, 0.5], [1, 0.25]]})"), preprocess);
  EXPECT_TRUE(preprocess);
  EXPECT_EQ(picture.pixels, (std::vector<float>{0, 0.5f, 1, 0.25f}));
  picture = lenet5::serve::picture_from_body(json_body(R"({"pixels": [[0, 255]], "preprocess": false})"), preprocess);
  EXPECT_FALSE(preprocess);
  EXPECT_EQ(picture.pixels, (std::vector<float>{0, 1}));
}

TEST(PredictRequest, MalformedJsonIs400WithAMessageNamingTheProblem) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{", "not valid JSON"},
      {"[1,2]", "must be an object"},
      {R"({"pixel": [[1]]})", "unknown field 'pixel'"},
      {R"({})", "no 'pixels' field"},
      {R"({"pixels": []})", "non-empty array"},
      {R"({"pixels": [1, 2]})", "rows must hold"},
      {R"({"pixels": [[1, 2], [3]]})", "row 1 is not an array of 2 numbers"},
      {R"({"pixels": [[0, "a"]]})", "[0][1] is \"a\""},
      {R"({"pixels": [[0, -1]]})", "[0][1] is -1"},
      {R"({"pixels": [[0, 256]]})", "[0][1] is 256"},
      {R"({"pixels": [[0, null]]})", "[0][1] is null"},
      {R"({"pixels": [[0]], "preprocess": 1})", "'preprocess' must be true or false"},
  };
  for (const auto& [text, message] : cases) {
    bool preprocess = true;
    try {
      lenet5::serve::picture_from_body(json_body(text), preprocess);
      ADD_FAILURE() << text << " was accepted";
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 400) << text;
      EXPECT_THAT(e.what(), HasSubstr(message)) << text;
    }
  }
  const std::string too_many_rows = "{\"pixels\": [" + std::string(1100 * 4, ' ') + "]}";
  std::string rows;
  for (int i = 0; i < 1025; ++i) rows += std::string(i ? "," : "") + "[0]";
  bool preprocess = true;
  EXPECT_EQ(status_of([&] { lenet5::serve::picture_from_body(json_body("{\"pixels\": [" + rows + "]}"), preprocess); }),
            400);
}

TEST(PredictRequest, BytesThatAreNoPictureAre422AndAnEmptyBodyIs400) {
  bool preprocess = true;
  EXPECT_EQ(status_of([&] { lenet5::serve::picture_from_body({"image/png", "hello"}, preprocess); }), 422);
  EXPECT_EQ(status_of([&] { lenet5::serve::picture_from_body({"image/png", ""}, preprocess); }), 400);
  EXPECT_EQ(status_of([&] {
              lenet5::serve::picture_from_body({"", std::string("\x89PNG\r\n\x1a\n", 8)}, preprocess);
            }),
            422);
}

TEST(PredictRequest, WithoutPreprocessingThePixelsMustBe28x28) {
  const lenet5::deploy::PreprocessOptions options;
  EXPECT_EQ(status_of([&] { lenet5::serve::digits_in(GrayImage(27, 28), false, options); }), 400);
  const auto digits = lenet5::serve::digits_in(GrayImage(28, 28, 0.5f), false, options);
  ASSERT_EQ(digits.size(), 1u);
  EXPECT_EQ(digits[0].view.pixels, GrayImage(28, 28, 0.5f).pixels);
  EXPECT_EQ(status_of([&] { lenet5::serve::digits_in(GrayImage(50, 40, 1.0f), true, options); }), 422);  // blank
}

TEST(PredictRequest, TopKFromTheQuery) {
  std::multimap<std::string, std::string> query;
  EXPECT_EQ(lenet5::serve::top_k_from_query(query, 10), 3);
  query = {{"top_k", "10"}};
  EXPECT_EQ(lenet5::serve::top_k_from_query(query, 10), 10);
  for (const std::string bad : {"0", "11", "-1", "3.5", "", "1e1", "99999999999999999999"}) {
    query = {{"top_k", bad}};
    EXPECT_EQ(status_of([&] { lenet5::serve::top_k_from_query(query, 10); }), 400) << bad;
  }
}

// --- answers ---

TEST(Metrics, PrometheusTextCountsRequestsAndHistograms) {
  lenet5::serve::Metrics metrics;
  metrics.count_request("/v1/predict", 200, 0.003);
  metrics.count_request("/v1/predict", 200, 0.0004);
  metrics.count_request("other", 404, 0.0001);
  metrics.observe_batch(3);
  metrics.set_queue_depth(2);
  const std::string text = metrics.prometheus_text();
  EXPECT_THAT(text, HasSubstr("lenet5_http_requests_total{route=\"/v1/predict\",status=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_http_requests_total{route=\"other\",status=\"404\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_http_request_duration_seconds_bucket{route=\"/v1/predict\",le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_http_request_duration_seconds_bucket{route=\"/v1/predict\",le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_http_request_duration_seconds_count{route=\"/v1/predict\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_batch_size_bucket{le=\"2\"} 0\nlenet5_batch_size_bucket{le=\"4\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lenet5_batch_size_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE lenet5_queue_depth gauge\nlenet5_queue_depth 2\n"));
}

TEST(Response, Base64AndErrorJson) {
  EXPECT_EQ(lenet5::text::base64(""), "");
  EXPECT_EQ(lenet5::text::base64("f"), "Zg==");
  EXPECT_EQ(lenet5::text::base64("fo"), "Zm8=");
  EXPECT_EQ(lenet5::text::base64("foo"), "Zm9v");
  EXPECT_EQ(lenet5::text::base64(std::string("\xff\x00", 2)), "/wA=");
  EXPECT_EQ(lenet5::serve::error_json("bad \"x\"\n"), R"({"error":"bad \"x\"\n"})");
  EXPECT_EQ(lenet5::serve::error_json("\xff"), "{\"error\":\"\xEF\xBF\xBD\"}");  // invalid UTF-8 replaced
}

}  // namespace
