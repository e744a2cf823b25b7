// runs/latest: a relative link to the newest run folder, replaced atomically, never replacing a user's file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "latest_link.h"
#include "test_files.h"

namespace {

namespace fs = std::filesystem;

TEST(LatestLink, PointsAtTheNewestRunWithARelativeLink) {
  lenet5::testing::TempDir dir;
  fs::create_directories(dir.file("runs/first"));
  fs::create_directories(dir.file("runs/second"));
  EXPECT_EQ(lenet5::app::latest_link_path(dir.file("runs/first")), dir.file("runs/latest"));

  lenet5::app::point_latest_link(dir.file("runs/first"));
  ASSERT_TRUE(fs::is_symlink(dir.file("runs/latest")));
  EXPECT_EQ(fs::read_symlink(dir.file("runs/latest")), "first");
  EXPECT_TRUE(lenet5::app::is_latest_link_to(dir.file("runs/first")));

  lenet5::app::point_latest_link(dir.file("runs/second"));
  EXPECT_EQ(fs::read_symlink(dir.file("runs/latest")), "second");
  EXPECT_FALSE(lenet5::app::is_latest_link_to(dir.file("runs/first")));
  // Nothing but the two runs and the link: no temporary link left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.file("runs")), fs::directory_iterator()), 3);
}

TEST(LatestLink, LeavesAUsersFileOrFolderNamedLatestAlone) {
  lenet5::testing::TempDir dir;
  fs::create_directories(dir.file("runs/run"));
  fs::create_directories(dir.file("runs/latest"));
  lenet5::app::point_latest_link(dir.file("runs/run"));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(dir.file("runs/latest"))));
  EXPECT_FALSE(lenet5::app::is_latest_link_to(dir.file("runs/run")));
}

}  // namespace
