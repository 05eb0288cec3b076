// meta.properties: the identity a data dir keeps, and the refusals it causes.
#include "cluster/node_meta.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace runnel::cluster {
namespace {

TEST(NodeMeta, RoundTripsKafkasFormat) {
  NodeMeta meta{"MkU3OEVBNTcwNTJENDM2Qg", 3};
  auto parsed = parse_node_meta(format_node_meta(meta));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->cluster_id, meta.cluster_id);
  EXPECT_EQ(parsed->node_id, 3);
}

TEST(NodeMeta, LogDirListRoundTrips) {
  std::set<std::string> dirs{"/disk1/runnel", "/disk2/runnel"};
  EXPECT_EQ(format_log_dir_list(dirs), "/disk1/runnel\n/disk2/runnel\n");
  EXPECT_EQ(parse_log_dir_list(format_log_dir_list(dirs)), dirs);
  EXPECT_EQ(parse_log_dir_list("\n/a\n\n/b"), (std::set<std::string>{"/a", "/b"}));
  EXPECT_TRUE(parse_log_dir_list("").empty());
}

TEST(NodeMeta, ReadsWhatKafkaWrites) {
  // kafka-storage format (KRaft) and ZooKeeper-era brokers.
  auto kraft = parse_node_meta(
      "#\n#Tue Nov 24 10:00:00 UTC 2026\nnode.id=1\ndirectory.id=abc\nversion=1\n"
      "cluster.id=MkU3OEVBNTcwNTJENDM2Qg\n");
  ASSERT_TRUE(kraft);
  EXPECT_EQ(kraft->node_id, 1);
  auto zk = parse_node_meta("version=0\r\nbroker.id=2\r\ncluster.id=abc\r\n");
  ASSERT_TRUE(zk);
  EXPECT_EQ(zk->node_id, 2);
  EXPECT_EQ(zk->cluster_id, "abc");
}

TEST(NodeMeta, RefusesIncompleteOrUnknownVersions) {
  EXPECT_FALSE(parse_node_meta(""));
  EXPECT_FALSE(parse_node_meta("version=1\nnode.id=1\n"));
  EXPECT_FALSE(parse_node_meta("version=1\ncluster.id=a\n"));
  EXPECT_FALSE(parse_node_meta("version=2\nnode.id=1\ncluster.id=a\n"));
  EXPECT_FALSE(parse_node_meta("version=1\nnode.id=-1\ncluster.id=a\n"));
  EXPECT_FALSE(parse_node_meta("version=1\nnode.id=x\ncluster.id=a\n"));
  EXPECT_FALSE(parse_node_meta("version=1\nnode.id=1\ncluster.id=a\ngarbage\n"));
}

TEST(NodeMeta, MismatchesNameTheReason) {
  NodeMeta stored{"abc", 1};
  EXPECT_FALSE(identity_mismatch(stored, 1, "abc"));
  EXPECT_FALSE(identity_mismatch(stored, 1, ""));  // single node: any cluster id
  auto node = identity_mismatch(stored, 2, "abc");
  ASSERT_TRUE(node);
  EXPECT_NE(node->find("belongs to node 1"), std::string::npos) << *node;
  auto cluster = identity_mismatch(stored, 1, "xyz");
  ASSERT_TRUE(cluster);
  EXPECT_NE(cluster->find("belongs to cluster abc"), std::string::npos) << *cluster;
  // A data dir from before meta.properties knows no node id yet: any is accepted.
  EXPECT_FALSE(identity_mismatch(NodeMeta{"abc", -1}, 5, "abc"));
}

TEST(NodeMeta, StoresAndLoadsAndAdoptsTheOlderClusterIdFile) {
  auto dir = std::filesystem::temp_directory_path() / ("runnel-node-meta-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "meta");
  auto* env = storage::Env::posix();
  EXPECT_FALSE(load_node_meta(*env, dir));
  std::ofstream(dir / "meta" / "cluster.id") << "legacyId\n";
  auto legacy = load_node_meta(*env, dir);
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->cluster_id, "legacyId");
  EXPECT_EQ(legacy->node_id, -1);
  ASSERT_TRUE(store_node_meta(*env, dir, {"legacyId", 4}));
  auto stored = load_node_meta(*env, dir);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->node_id, 4);
  std::ofstream(dir / "meta.properties") << "not a properties file";
  EXPECT_THROW(load_node_meta(*env, dir), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(NodeMeta, RandomClusterIdsLookLikeKafkas) {
  auto a = random_cluster_id(), b = random_cluster_id();
  EXPECT_EQ(a.size(), 22u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace runnel::cluster
