// The terminal side of training (app/progress.h): progress lines that fit the terminal, plain lines otherwise.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "progress.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

lenet5::engine::BatchProgress some_progress() {
  lenet5::engine::BatchProgress p;
  p.epoch = 12;
  p.epochs = 20;
  p.batch = 469;
  p.batches = 938;
  p.loss = 0.0123;
  p.accuracy = 0.9912;
  p.images_per_second = 123456;
  p.eta_seconds = 3725;
  return p;
}

TEST(AppProgress, LineFitsEveryTerminalWidth) {
  for (int columns : {20, 40, 60, 72, 80, 100, 200}) {
    const std::string line = lenet5::app::progress_line(some_progress(), columns);
    EXPECT_LE(static_cast<int>(line.size()), columns - 1) << columns << ": " << line;
    EXPECT_THAT(line, StartsWith(std::string("epoch 12/20").substr(0, static_cast<size_t>(columns - 1)))) << columns;
  }
  // Wide enough: the whole line with a 30-column bar, half full.
  const std::string wide = lenet5::app::progress_line(some_progress(), 200);
  EXPECT_THAT(wide, HasSubstr("[" + std::string(15, '#') + std::string(15, '.') + "]"));
  EXPECT_THAT(wide, HasSubstr("469/938 loss 0.0123 acc 99.12% 123456 img/s ETA 1:02:05"));
  // At 80 columns the numbers stay and the bar shrinks (for the widest numbers, it goes).
  EXPECT_THAT(lenet5::app::progress_line(some_progress(), 80), HasSubstr("img/s ETA 1:02:05"));
  auto typical = some_progress();
  typical.epoch = 1;
  typical.epochs = 3;
  typical.images_per_second = 11900;
  typical.eta_seconds = 12;
  const std::string standard = lenet5::app::progress_line(typical, 80);
  EXPECT_THAT(standard, HasSubstr("epoch 1/3 [#######"));
  EXPECT_THAT(standard, HasSubstr("] 469/938 loss 0.0123 acc 99.12% 11900 img/s ETA 0:12"));
  EXPECT_LE(standard.size(), 79u);
  const std::string testing = lenet5::app::evaluation_line(3000, 10000, 80);
  EXPECT_THAT(testing, StartsWith("testing ["));
  EXPECT_THAT(testing, HasSubstr("3000/10000 images"));
  EXPECT_LE(testing.size(), 79u);
}

TEST(AppProgress, ColumnsComeFromTheTerminalElseColumnsElse80) {
  std::FILE* file = std::tmpfile();  // not a terminal
  ASSERT_NE(file, nullptr);
  ::setenv("COLUMNS", "57", 1);
  EXPECT_EQ(lenet5::app::terminal_columns(file), 57);
  ::unsetenv("COLUMNS");
  EXPECT_EQ(lenet5::app::terminal_columns(file), 80);
  std::fclose(file);
}

TEST(AppProgress, PlainLinesWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    lenet5::app::ConsoleProgress progress(file);
    progress.on_progress(some_progress());
    progress.on_evaluation_progress(5000, 10000, 3.0);
    lenet5::engine::EpochMetrics metrics;
    metrics.epoch = 1;
    progress.on_epoch_end(metrics);
  }
  std::rewind(file);
  char buffer[4096] = {0};
  const size_t size = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  const std::string text(buffer, size);
  EXPECT_THAT(text, StartsWith("epoch 1: train loss"));
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

}  // namespace
