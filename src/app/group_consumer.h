#pragma once
// A consumer-group member over the classic protocol, for the REST proxy's
// consumer instances: FindCoordinator, JoinGroup/SyncGroup with the range
// assignor (this member computes the assignment when it is the leader),
// Heartbeat, LeaveGroup, OffsetFetch/OffsetCommit, and Fetch from the
// assigned partitions' leaders. A thread of its own joins, heartbeats and
// rejoins on a rebalance, as a Kafka client's background thread does, so
// a member that is not polled for a while keeps its partitions.
//
// Thread-safety: every public method may be called from any thread; one
// mutex guards the state (held only between network calls, so a poll never
// waits on a heartbeat's answer, and a JoinGroup waiting for other members
// never blocks a poll). Every connection, whichever thread makes it, goes
// through Options::dialer.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/admin_client.h"

namespace runnel::app {

struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
};

class GroupConsumer {
 public:
  using TopicPartition = std::pair<std::string, int32_t>;
  struct Options {
    std::string bootstrap;
    // How its connections reach the brokers (app/kafka_access.h); empty: TCP.
    Dialer dialer;
    std::string group;
    std::string client_id = "runnel-rest-proxy";
    bool from_earliest = false;  // auto.offset.reset: earliest, else latest
    bool auto_commit = true;     // commit the positions reached before each poll
    int32_t session_timeout_ms = 30000;
    int32_t rebalance_timeout_ms = 60000;
    int32_t heartbeat_interval_ms = 3000;
  };

  explicit GroupConsumer(Options options);
  // Leaves the group (LeaveGroup) and stops the thread.
  ~GroupConsumer();
  GroupConsumer(const GroupConsumer&) = delete;
  GroupConsumer& operator=(const GroupConsumer&) = delete;

  // Replaces the subscription (empty: none) and rejoins.
  void subscribe(std::vector<std::string> topics);
  std::vector<std::string> subscription() const;
  std::vector<TopicPartition> assignment() const;

  // Records from the assigned partitions: waits up to timeout_ms for an
  // assignment and then for data (Fetch long poll), at most ~max_bytes.
  std::vector<ConsumedRecord> poll(int32_t timeout_ms, int32_t max_bytes);
  // Commits these offsets (the next offset to read), or every assigned
  // partition's position when empty. Throws AdminError with the error.
  void commit(const std::map<TopicPartition, int64_t>& offsets = {});
  // The group's committed offsets of these partitions (-1: none).
  std::map<TopicPartition, int64_t> committed(const std::vector<TopicPartition>& partitions);
  // Moves positions (seek); to_beginning/to_end use ListOffsets.
  void seek(const std::map<TopicPartition, int64_t>& offsets);
  void seek_to(const std::vector<TopicPartition>& partitions, bool to_end);

 private:
  void run();        // the member thread: join, heartbeat, rejoin
  bool join();       // one JoinGroup + SyncGroup round; true once assigned
  void heartbeat();  // one Heartbeat; on an error asks for a rejoin
  void fill_positions(const std::vector<TopicPartition>& assigned);
  // ListOffsets (earliest, latest) for each partition, on its leader.
  std::map<TopicPartition, int64_t> list_offsets(const std::vector<TopicPartition>& partitions, int64_t which);
  AdminClient& coordinator();  // the member thread's connection
  AdminClient& leader_of(const TopicPartition& tp, std::map<std::string, std::unique_ptr<AdminClient>>& clients,
                         std::map<TopicPartition, std::string>& leaders);
  std::map<TopicPartition, std::string> find_leaders(const std::vector<std::string>& topics,
                                                     std::map<std::string, int32_t>* partition_counts);

  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> topics_;
  bool need_join_ = false;
  bool stopping_ = false;
  std::string member_id_;
  int32_t generation_ = -1;
  std::vector<TopicPartition> assigned_;
  std::map<TopicPartition, int64_t> positions_;
  std::unique_ptr<AdminClient> coordinator_;    // the member thread's
  std::atomic<AdminClient*> joining_{nullptr};  // shut down to interrupt a blocked JoinGroup
  std::thread thread_;
};

}  // namespace runnel::app
