// Log directories (log.dirs): where each partition replica lives, where a new
// one goes, and which directories start offline.
#include "cluster/log_dirs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace runnel::cluster {
namespace {

class LogDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runnel-logdirs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* d : {"a", "b", "c"}) std::filesystem::create_directories(root_ / d);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::vector<std::filesystem::path> paths(std::initializer_list<const char*> names) {
    std::vector<std::filesystem::path> out;
    for (const char* n : names) out.push_back(root_ / n);
    return out;
  }
  std::filesystem::path root_;
  storage::Env& env_ = *storage::Env::posix();
  const NodeMeta self_{"MkU3OEVBNTcwNTJENDM2Qg", 1};
};

TEST_F(LogDirsTest, NewPartitionsGoWhereTheFewestAre) {
  std::filesystem::create_directories(root_ / "a" / "t-0");
  std::filesystem::create_directories(root_ / "a" / "t-1");
  std::filesystem::create_directories(root_ / "b" / "u-3");
  std::filesystem::create_directories(root_ / "b" / "meta");  // not a partition
  LogDirs dirs({{root_ / "a", true}, {root_ / "b", true}, {root_ / "c", true}});
  dirs.scan(env_);
  EXPECT_EQ(dirs.locate("t-1", false, nullptr), root_ / "a" / "t-1");
  EXPECT_EQ(dirs.locate("u-3", false, nullptr), root_ / "b" / "u-3");
  EXPECT_EQ(dirs.locate("n-0", true, nullptr), root_ / "c" / "n-0");
  EXPECT_EQ(dirs.locate("n-1", true, nullptr), root_ / "b" / "n-1");  // b and c have one each: b comes first
  EXPECT_EQ(dirs.locate("n-2", true, nullptr), root_ / "c" / "n-2");
  EXPECT_EQ(dirs.find("n-2"), root_ / "c" / "n-2");
  dirs.forget("n-2");
  EXPECT_FALSE(dirs.find("n-2"));
  EXPECT_EQ(dirs.locate("n-3", true, nullptr), root_ / "c" / "n-3");
  dirs.prefer("n-4", 0);  // AlterReplicaLogDirs before the replica exists
  EXPECT_EQ(dirs.locate("n-4", true, nullptr), root_ / "a" / "n-4");
}

TEST_F(LogDirsTest, APartitionInTwoDirectoriesOrMissingWhileOneIsOfflineIsNotOpened) {
  std::filesystem::create_directories(root_ / "a" / "t-0");
  std::filesystem::create_directories(root_ / "b" / "t-0");
  LogDirs dirs({{root_ / "a", true}, {root_ / "b", true}, {root_ / "c", false}});
  dirs.scan(env_);
  std::string why;
  EXPECT_FALSE(dirs.locate("t-0", true, &why));
  EXPECT_NE(why.find("two log directories"), std::string::npos) << why;
  EXPECT_FALSE(dirs.locate("gone-0", false, &why));  // it may be on the offline one
  EXPECT_NE(why.find("offline"), std::string::npos) << why;
  auto fresh = dirs.locate("new-0", true, nullptr);  // a new replica goes to an online one
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->parent_path(), root_ / "c");
}

TEST_F(LogDirsTest, AnInterruptedMoveIsUndoneOrFinishedAtStartUp) {
  // t-0: the copy was made, the original not yet renamed (copy dropped).
  std::filesystem::create_directories(root_ / "a" / "t-0");
  std::filesystem::create_directories(root_ / "b" / LogDirs::future_name("t-0", "7"));
  // u-0: the original renamed, the copy not yet (original renamed back).
  std::filesystem::create_directories(root_ / "a" / LogDirs::delete_name("u-0", "8"));
  std::ofstream(root_ / "a" / LogDirs::delete_name("u-0", "8") / "00000000000000000000.log") << "data";
  std::filesystem::create_directories(root_ / "b" / LogDirs::future_name("u-0", "8"));
  // v-0: both renamed, the original not yet deleted (deleted now).
  std::filesystem::create_directories(root_ / "a" / LogDirs::delete_name("v-0", "9"));
  std::filesystem::create_directories(root_ / "b" / "v-0");
  LogDirs dirs({{root_ / "a", true}, {root_ / "b", true}});
  dirs.scan(env_);
  EXPECT_EQ(dirs.find("t-0"), root_ / "a" / "t-0");
  EXPECT_EQ(dirs.find("u-0"), root_ / "a" / "u-0");
  EXPECT_TRUE(std::filesystem::exists(root_ / "a" / "u-0" / "00000000000000000000.log"));
  EXPECT_EQ(dirs.find("v-0"), root_ / "b" / "v-0");
  std::vector<std::string> left;
  for (const char* d : {"a", "b"})
    for (const auto& e : std::filesystem::directory_iterator(root_ / d)) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"t-0", "u-0", "v-0"}));
  dirs.relocate("t-0", 1);
  EXPECT_EQ(dirs.find("t-0"), root_ / "b" / "t-0");
  EXPECT_EQ(dirs.index_of(root_ / "b"), 1u);
  EXPECT_FALSE(dirs.index_of(root_ / "c"));
}

TEST_F(LogDirsTest, PartitionDirectoryNames) {
  EXPECT_TRUE(LogDirs::is_partition_dir_name("t-0"));
  EXPECT_TRUE(LogDirs::is_partition_dir_name("a-b-12"));
  EXPECT_FALSE(LogDirs::is_partition_dir_name("meta"));
  EXPECT_FALSE(LogDirs::is_partition_dir_name("-1"));
  EXPECT_FALSE(LogDirs::is_partition_dir_name("t-"));
  EXPECT_FALSE(LogDirs::is_partition_dir_name("t-1x"));
}

TEST_F(LogDirsTest, FurtherDirectoriesAreFormattedOnceAndAnUnmountedOneIsOffline) {
  auto dirs = check_log_dirs(env_, paths({"a", "b", "c"}), self_);
  ASSERT_EQ(dirs.size(), 3u);
  for (const auto& d : dirs) EXPECT_TRUE(d.online) << d.path;
  auto meta = load_node_meta(env_, root_ / "b");
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->cluster_id, self_.cluster_id);
  EXPECT_EQ(meta->node_id, 1);
  // c's disk is not mounted: its mount point is empty.
  std::filesystem::rename(root_ / "c", root_ / "c.away");
  std::filesystem::create_directories(root_ / "c");
  dirs = check_log_dirs(env_, paths({"a", "b", "c"}), self_);
  EXPECT_TRUE(dirs[1].online);
  EXPECT_FALSE(dirs[2].online);
  EXPECT_FALSE(std::filesystem::exists(root_ / "c" / "meta.properties"));  // not formatted over
  // Back again.
  std::filesystem::remove_all(root_ / "c");
  std::filesystem::rename(root_ / "c.away", root_ / "c");
  dirs = check_log_dirs(env_, paths({"a", "b", "c"}), self_);
  EXPECT_TRUE(dirs[2].online);
  // Left out of log.dirs, then listed again empty: a new directory.
  (void)check_log_dirs(env_, paths({"a", "b"}), self_);
  std::filesystem::remove_all(root_ / "c");
  dirs = check_log_dirs(env_, paths({"a", "b", "c"}), self_);
  EXPECT_TRUE(dirs[2].online);
}

TEST_F(LogDirsTest, AReorderedListIsRefused) {
  std::filesystem::create_directories(root_ / "a" / "meta");  // the broker's state, in the first
  check_log_dir_order(env_, paths({"a", "b"}));
  EXPECT_THROW(check_log_dir_order(env_, paths({"b", "a"})), std::runtime_error);
  EXPECT_THROW(check_log_dir_order(env_, paths({"c", "a", "b"})), std::runtime_error);
}

TEST_F(LogDirsTest, ADirectoryOfAnotherNodeIsRefused) {
  (void)check_log_dirs(env_, paths({"a", "b"}), self_);
  EXPECT_THROW(check_log_dirs(env_, paths({"c", "b"}), NodeMeta{self_.cluster_id, 2}), std::runtime_error);
  EXPECT_THROW(check_log_dirs(env_, paths({"c", "b"}), NodeMeta{"OtherClusterIdAAAAAAAA", 1}), std::runtime_error);
}

}  // namespace
}  // namespace runnel::cluster
