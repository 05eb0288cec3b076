// Topic ids (Fetch v13+ and Metadata v10+ name topics by them): found by id,
// never for the all-zero id, and the same after the catalogue is read again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "cluster/topic_table.h"

namespace runnel::cluster {
namespace {

class TopicIds : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runnel-topic-ids-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(TopicIds, NameOfFindsEachTopicByItsId) {
  TopicTable table(dir_, storage::LogConfig{});
  table.load();
  std::string message;
  ASSERT_EQ(table.create("a", 1, {}, false, &message), ErrorCode::NONE) << message;
  ASSERT_EQ(table.create("b", 2, {}, false, &message), ErrorCode::NONE) << message;
  auto a = table.find("a")->id;
  auto b = table.find("b")->id;
  EXPECT_NE(a, b);
  EXPECT_NE(a, TopicId{});
  EXPECT_EQ(table.name_of(a), "a");
  EXPECT_EQ(table.name_of(b), "b");
  EXPECT_EQ(table.name_of(TopicId{}), std::nullopt);
  TopicId other = a;
  other[0] ^= 1;
  EXPECT_EQ(table.name_of(other), std::nullopt);

  // A restart reads the same ids back.
  TopicTable again(dir_, storage::LogConfig{});
  again.load();
  EXPECT_EQ(again.find("a")->id, a);
  EXPECT_EQ(again.name_of(b), "b");

  // Deleted and created again: a new id, and the old one names nothing.
  ASSERT_EQ(again.remove("a"), ErrorCode::NONE);
  ASSERT_EQ(again.create("a", 1, {}, false, &message), ErrorCode::NONE) << message;
  EXPECT_NE(again.find("a")->id, a);
  EXPECT_EQ(again.name_of(a), std::nullopt);
}

}  // namespace
}  // namespace runnel::cluster
