#pragma once
// A consumer group's topic regex (ConsumerGroupHeartbeat v1's
// SubscribedTopicRegex), matched against whole topic names. Kafka uses RE2J,
// which runs in linear time; so does this: POSIX extended regular expressions
// with glibc's matcher (no backtracking), after rewriting the RE2 forms
// clients use that ERE lacks (\d, \D, (?:...)). Back-references, other (?...)
// groups, very long patterns and large repetition counts are refused as
// invalid, so no pattern a client sends can make the coordinator's shard
// spin or balloon.
//
// Thread-safety: a compiled regex may be shared for reading; matching does not
// modify it.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace runnel::group {

class TopicRegex {
 public:
  // nullopt when the pattern is invalid or refused.
  static std::optional<TopicRegex> compile(std::string_view pattern);
  // Whether the whole name matches.
  bool matches(const std::string& name) const;

 private:
  struct Compiled;
  explicit TopicRegex(std::shared_ptr<const Compiled> c) : compiled_(std::move(c)) {}
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace runnel::group
