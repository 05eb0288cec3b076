// Topic regexes of consumer groups: whole-name matches, RE2 forms clients
// use, and patterns refused so none can make the coordinator spin.
#include "group/topic_regex.h"

#include <gtest/gtest.h>

namespace runnel::group {
namespace {

bool match(const std::string& pattern, const std::string& name) {
  auto re = TopicRegex::compile(pattern);
  EXPECT_TRUE(re) << pattern;
  return re && re->matches(name);
}

TEST(TopicRegex, WholeNameMatches) {
  EXPECT_TRUE(match("orders-.*", "orders-eu"));
  EXPECT_FALSE(match("orders", "orders-eu"));
  EXPECT_FALSE(match("eu", "orders-eu"));
  EXPECT_TRUE(match("a|b", "b"));
  EXPECT_TRUE(match("t[0-9]+", "t42"));
}

TEST(TopicRegex, Re2FormsClientsUse) {
  EXPECT_TRUE(match("topic\\d+", "topic7"));
  EXPECT_FALSE(match("topic\\d+", "topicx"));
  EXPECT_TRUE(match("x\\D", "xy"));
  EXPECT_TRUE(match("(?:a|b)c", "bc"));
  EXPECT_TRUE(match("[\\d_]+", "1_2"));
  EXPECT_TRUE(match("a\\.b", "a.b"));
  EXPECT_FALSE(match("a\\.b", "axb"));
}

TEST(TopicRegex, RefusedPatterns) {
  EXPECT_FALSE(TopicRegex::compile("(unclosed"));
  EXPECT_FALSE(TopicRegex::compile("(a)\\1"));
  EXPECT_FALSE(TopicRegex::compile("(?i)abc"));
  EXPECT_FALSE(TopicRegex::compile("a{100000}"));
  EXPECT_FALSE(TopicRegex::compile("a{1}b{1}c{1}d{1}e{1}"));
  EXPECT_FALSE(TopicRegex::compile(std::string(2000, 'a')));
}

TEST(TopicRegex, NoCatastrophicBacktracking) {
  // Exponential for a backtracking matcher; immediate here.
  auto re = TopicRegex::compile("(a+)+b");
  ASSERT_TRUE(re);
  EXPECT_FALSE(re->matches(std::string(200, 'a')));
}

}  // namespace
}  // namespace runnel::group
