// The inputs of `runnel cluster reassign`: kafka-reassign-partitions.sh's
// files and the command-line partition arguments.
#include "app/reassignment_plan.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace runnel::app {
namespace {

TEST(ReassignmentPlan, ReadsTheToolsPlanFileWithItsLogDirs) {
  auto specs = parse_reassignment_json(
      R"({"version":1,"partitions":[{"topic":"t","partition":2,"replicas":[3,1],"log_dirs":["any","/d/b"]},)"
      R"({"topic":"u","partition":0,"replicas":[1]}]})");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].topic, "t");
  EXPECT_EQ(specs[0].partition, 2);
  EXPECT_EQ(specs[0].replicas, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(specs[0].log_dirs, (std::vector<std::string>{"any", "/d/b"}));
  EXPECT_TRUE(specs[1].log_dirs.empty());
}

TEST(ReassignmentPlan, RefusesWhatTheToolRefuses) {
  for (const char* bad : {
           "[]",
           R"({"version":1})",
           R"({"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]})",
           R"({"partitions":[{"topic":"t","partition":0,"replicas":[1.5]}]})",
           R"({"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]})",
           R"({"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":[""]}]})",
           R"({"partitions":[{"partition":0,"replicas":[1]}]})",
           "not json",
       })
    EXPECT_THROW(parse_reassignment_json(bad), std::invalid_argument) << bad;
}

TEST(ReassignmentPlan, ReadsArguments) {
  auto spec = parse_reassignment_spec("a:b:3=2,1");
  EXPECT_EQ(spec.topic, "a:b");
  EXPECT_EQ(spec.partition, 3);
  EXPECT_EQ(spec.replicas, (std::vector<int32_t>{2, 1}));
  EXPECT_TRUE(parse_reassignment_spec("t:0").replicas.empty());
  EXPECT_THROW(parse_reassignment_spec("t=1"), std::invalid_argument);
  EXPECT_THROW(parse_reassignment_spec("t:0=1,x"), std::invalid_argument);

  auto filter = parse_partition_filter({"t", "u:1", "u:4"});
  EXPECT_TRUE(filter.at("t").empty());
  EXPECT_EQ(filter.at("u"), (std::vector<int32_t>{1, 4}));
  EXPECT_THROW(parse_partition_filter({"u:-1"}), std::invalid_argument);

  EXPECT_EQ(parse_topics_to_move_json(R"({"version":1,"topics":[{"topic":"a"},{"topic":"b"}]})"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(parse_topics_to_move_json(R"({"topics":["a"]})"), std::invalid_argument);
}

}  // namespace
}  // namespace runnel::app
