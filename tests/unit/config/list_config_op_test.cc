// APPEND and SUBTRACT on LIST configs, as Kafka's controller applies them.
#include "config/list_config_op.h"

#include <gtest/gtest.h>

#include "config/topic_config.h"

namespace runnel {
namespace {

TEST(ListConfigOp, AppendStartsFromKafkasDefaultWhenUnset) {
  EXPECT_EQ(apply_list_op(AlterConfigOp::kAppend, std::nullopt, "delete", "compact"), "delete,compact");
  EXPECT_EQ(apply_list_op(AlterConfigOp::kAppend, std::string("compact"), "delete", "compact,delete"),
            "compact,delete");
}

TEST(ListConfigOp, AppendKeepsOrderAndSkipsWhatIsThere) {
  EXPECT_EQ(apply_list_op(AlterConfigOp::kAppend, std::string("a,b"), "", "b,c,a,d"), "a,b,c,d");
  EXPECT_EQ(apply_list_op(AlterConfigOp::kAppend, std::string(""), "delete", "x"), "x");
}

TEST(ListConfigOp, SubtractRemovesFirstOccurrences) {
  EXPECT_EQ(apply_list_op(AlterConfigOp::kSubtract, std::nullopt, "delete", "delete"), "");
  EXPECT_EQ(apply_list_op(AlterConfigOp::kSubtract, std::string("compact,delete"), "delete", "delete,zzz"), "compact");
  EXPECT_EQ(apply_list_op(AlterConfigOp::kSubtract, std::string("a,,b,a"), "", "a"), "b,a");
}

TEST(ListConfigOp, MessageNamesTheOperationAndKey) {
  EXPECT_EQ(not_a_list_message(AlterConfigOp::kAppend, "retention.ms"),
            "Can't APPEND to key retention.ms because its type is not LIST.");
  EXPECT_EQ(not_a_list_message(AlterConfigOp::kSubtract, "x"), "Can't SUBTRACT to key x because its type is not LIST.");
}

TEST(ListConfigOp, TopicConfigInfoKnowsListsAndDefaults) {
  ASSERT_NE(find_topic_config_info("cleanup.policy"), nullptr);
  EXPECT_EQ(find_topic_config_info("cleanup.policy")->type, config_type::kList);
  EXPECT_EQ(find_topic_config_info("retention.ms")->type, config_type::kLong);
  EXPECT_EQ(find_topic_config_info("no.such"), nullptr);
  EXPECT_EQ(kafka_topic_config_default("cleanup.policy"), "delete");
  EXPECT_EQ(kafka_topic_config_default("retention.ms"), "604800000");
}

}  // namespace
}  // namespace runnel
