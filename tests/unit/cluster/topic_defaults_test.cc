// The catalogue's topic defaults changed at run time (dynamic broker
// configs): every topic without its own setting takes the new value, a
// topic's own setting still wins, and only the topics whose effective config
// changed are reported (their partitions are told).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/topic_table.h"
#include "config/dynamic_broker_config.h"

namespace runnel::cluster {
namespace {

class TopicDefaults : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runnel-topic-defaults-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(TopicDefaults, NewDefaultsReachTopicsWithoutTheirOwnSetting) {
  storage::LogConfig static_defaults;
  static_defaults.retention_ms = 1000;
  TopicTable table(dir_, static_defaults);
  table.load();
  std::string message;
  ASSERT_EQ(table.create("inherits", 1, {}, false, &message), ErrorCode::NONE) << message;
  ASSERT_EQ(table.create("own", 1, {{"retention.ms", "9000"}}, false, &message), ErrorCode::NONE) << message;

  DynamicBrokerConfigs dynamic;
  dynamic.cluster_default = {{"log.retention.ms", "5000"}, {"message.max.bytes", "100"}};
  auto changed = table.set_defaults(effective_topic_defaults(static_defaults, dynamic, 1));
  EXPECT_EQ(changed, (std::vector<std::string>{"inherits", "own"}));  // own: message.max.bytes
  EXPECT_EQ(table.find("inherits")->log_config.retention_ms, 5000);
  EXPECT_EQ(table.find("inherits")->log_config.max_message_bytes, 100);
  EXPECT_EQ(table.find("own")->log_config.retention_ms, 9000);
  EXPECT_EQ(table.find("own")->log_config.max_message_bytes, 100);

  // This broker's value over the cluster default; the topic's own still wins.
  dynamic.per_broker[1] = {{"log.retention.ms", "7000"}};
  changed = table.set_defaults(effective_topic_defaults(static_defaults, dynamic, 1));
  EXPECT_EQ(changed, (std::vector<std::string>{"inherits"}));
  EXPECT_EQ(table.find("inherits")->log_config.retention_ms, 7000);
  EXPECT_EQ(table.find("own")->log_config.retention_ms, 9000);

  // A topic created afterwards starts with the defaults in force.
  ASSERT_EQ(table.create("later", 1, {}, false, &message), ErrorCode::NONE) << message;
  EXPECT_EQ(table.find("later")->log_config.retention_ms, 7000);
  EXPECT_EQ(table.defaults().retention_ms, 7000);

  // Nothing dynamic: back to the static value.
  changed = table.set_defaults(static_defaults);
  EXPECT_EQ(table.find("inherits")->log_config.retention_ms, 1000);
  EXPECT_EQ(table.set_defaults(static_defaults), std::vector<std::string>{});
}

}  // namespace
}  // namespace runnel::cluster
