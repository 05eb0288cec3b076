#include "app/group_consumer.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "app/admin_client.h"
#include "app/coordinator_client.h"
#include "app/topic_layout.h"
#include "base/endian.h"
#include "base/error_code.h"
#include "base/thread_name.h"
#include "protocol/consumer_protocol.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

namespace runnel::app {
namespace {

using namespace runnel::protocol;
using Clock = std::chrono::steady_clock;

// How long an offset fetch or commit asks a loading or moving coordinator
// again: well within a session timeout, as the membership thread waits.
constexpr std::chrono::milliseconds kCoordinatorRetry{5000};

std::optional<std::string> optional_text(const std::optional<std::vector<uint8_t>>& b) {
  if (!b) return std::nullopt;
  return std::string(b->begin(), b->end());
}

}  // namespace

GroupConsumer::GroupConsumer(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] {
    name_this_thread("group-consumer");
    run();
  });
}

GroupConsumer::~GroupConsumer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (auto* c = joining_.load()) c->shutdown();
  cv_.notify_all();
  thread_.join();
}

void GroupConsumer::subscribe(std::vector<std::string> topics) {
  std::lock_guard lock(mu_);
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  topics_ = std::move(topics);
  need_join_ = true;
  if (topics_.empty()) {
    assigned_.clear();
    positions_.clear();
  }
  cv_.notify_all();
}

std::vector<std::string> GroupConsumer::subscription() const {
  std::lock_guard lock(mu_);
  return topics_;
}

std::vector<GroupConsumer::TopicPartition> GroupConsumer::assignment() const {
  std::lock_guard lock(mu_);
  return assigned_;
}

AdminClient& GroupConsumer::coordinator() {
  if (!coordinator_)
    coordinator_ = AdminClient::to_group_coordinator(options_.bootstrap, options_.group, options_.client_id);
  return *coordinator_;
}

void GroupConsumer::run() {
  DialerScope dialer(options_.dialer);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (topics_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (need_join_) {
      lock.unlock();
      bool joined = false;
      try {
        joined = join();
      } catch (const std::exception&) {
        coordinator_.reset();  // find the coordinator again
      }
      lock.lock();
      if (!joined && !stopping_) cv_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(options_.heartbeat_interval_ms),
                 [this] { return stopping_ || need_join_ || topics_.empty(); });
    if (stopping_ || need_join_ || topics_.empty()) continue;
    lock.unlock();
    try {
      heartbeat();
    } catch (const std::exception&) {
      coordinator_.reset();
      std::lock_guard relock(mu_);
      need_join_ = true;
    }
    lock.lock();
  }
  // Leave, so that the others get this member's partitions at once; with
  // auto-commit, what was consumed is committed first (as a Java consumer
  // does on close).
  std::string member = member_id_;
  std::map<TopicPartition, int64_t> to_commit = options_.auto_commit ? positions_ : std::map<TopicPartition, int64_t>{};
  lock.unlock();
  if (member.empty()) return;
  if (!to_commit.empty()) {
    try {
      commit(to_commit);
    } catch (const std::exception&) {
    }
  }
  try {
    LeaveGroupRequest req;
    req.group_id = options_.group;
    LeaveGroupRequest::MemberIdentity m;
    m.member_id = member;
    req.members.push_back(m);
    coordinator_.reset();  // its socket may be shut down
    coordinator().call<LeaveGroupResponse>(req, 3);
  } catch (const std::exception&) {
  }
}

bool GroupConsumer::join() {
  std::vector<std::string> topics;
  std::string member;
  int32_t generation;
  std::map<TopicPartition, int64_t> to_commit;
  {
    std::lock_guard lock(mu_);
    topics = topics_;
    member = member_id_;
    generation = generation_;
    if (options_.auto_commit) to_commit = positions_;
  }
  // Auto-commit what was consumed before giving the partitions up, as the
  // Java client does before it rejoins.
  if (!to_commit.empty() && generation >= 0) {
    try {
      commit(to_commit);
    } catch (const std::exception&) {
    }
  }
  AdminClient& c = coordinator();
  joining_ = &c;
  JoinGroupRequest req;
  req.group_id = options_.group;
  req.session_timeout_ms = options_.session_timeout_ms;
  req.rebalance_timeout_ms = options_.rebalance_timeout_ms;
  req.protocol_type = "consumer";
  JoinGroupRequest::JoinGroupRequestProtocol protocol;
  protocol.name = "range";
  protocol.metadata = encode_consumer_subscription(topics);
  req.protocols.push_back(protocol);
  JoinGroupResponse resp;
  for (int attempt = 0;; ++attempt) {
    req.member_id = member;
    resp = c.call<JoinGroupResponse>(req, 5);
    // KIP-394: the first JoinGroup gets a member id to join with.
    if (resp.error_code == static_cast<int16_t>(ErrorCode::MEMBER_ID_REQUIRED) && attempt == 0) {
      member = resp.member_id;
      continue;
    }
    break;
  }
  joining_ = nullptr;
  if (resp.error_code != 0) {
    std::lock_guard lock(mu_);
    if (resp.error_code == static_cast<int16_t>(ErrorCode::UNKNOWN_MEMBER_ID)) member_id_.clear();
    if (resp.error_code == static_cast<int16_t>(ErrorCode::NOT_COORDINATOR) ||
        resp.error_code == static_cast<int16_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE))
      coordinator_.reset();
    return false;
  }
  member = resp.member_id;

  SyncGroupRequest sync;
  sync.group_id = options_.group;
  sync.generation_id = resp.generation_id;
  sync.member_id = member;
  if (resp.leader == member) {
    // The range assignor, per topic: members in id order, consecutive partitions each.
    std::map<std::string, std::vector<std::string>> subscribers;  // topic -> members
    std::set<std::string> all_topics;
    for (const auto& m : resp.members) {
      std::vector<std::string> their;
      try {
        their = decode_consumer_subscription(m.metadata);
      } catch (const std::exception&) {
      }
      for (const auto& t : their) {
        subscribers[t].push_back(m.member_id);
        all_topics.insert(t);
      }
    }
    std::map<std::string, int32_t> counts;
    find_leaders(std::vector<std::string>(all_topics.begin(), all_topics.end()), &counts);
    std::map<std::string, std::map<std::string, std::vector<int32_t>>> plan;  // member -> topic -> partitions
    for (auto& [topic, members] : subscribers) {
      std::sort(members.begin(), members.end());
      int32_t n = counts.count(topic) ? counts[topic] : 0;
      int32_t each = n / static_cast<int32_t>(members.size());
      int32_t extra = n % static_cast<int32_t>(members.size());
      int32_t next = 0;
      for (int32_t i = 0; i < static_cast<int32_t>(members.size()); ++i) {
        int32_t take = each + (i < extra ? 1 : 0);
        for (int32_t k = 0; k < take; ++k) plan[members[static_cast<size_t>(i)]][topic].push_back(next++);
      }
    }
    for (const auto& m : resp.members) {
      SyncGroupRequest::SyncGroupRequestAssignment a;
      a.member_id = m.member_id;
      a.assignment = encode_consumer_assignment(plan[m.member_id]);
      sync.assignments.push_back(a);
    }
  }
  auto sresp = c.call<SyncGroupResponse>(sync, 3);
  if (sresp.error_code != 0) {
    std::lock_guard lock(mu_);
    member_id_ = member;
    return false;
  }
  std::vector<TopicPartition> assigned;
  for (const auto& [topic, partitions] : decode_consumer_assignment(sresp.assignment))
    for (int32_t p : partitions) assigned.push_back({topic, p});
  std::sort(assigned.begin(), assigned.end());
  {
    std::lock_guard lock(mu_);
    member_id_ = member;
    generation_ = resp.generation_id;
    assigned_ = assigned;
    // A partition this member keeps across the rebalance keeps its position
    // (as with the cooperative protocol): nobody else read it meanwhile.
    std::erase_if(positions_, [&](const auto& entry) {
      return !std::binary_search(assigned.begin(), assigned.end(), entry.first);
    });
  }
  fill_positions(assigned);
  std::lock_guard lock(mu_);
  if (generation_ == resp.generation_id) need_join_ = need_join_ && topics_ != topics;
  cv_.notify_all();
  return true;
}

void GroupConsumer::heartbeat() {
  HeartbeatRequest req;
  {
    std::lock_guard lock(mu_);
    req.group_id = options_.group;
    req.generation_id = generation_;
    req.member_id = member_id_;
  }
  auto resp = coordinator().call<HeartbeatResponse>(req, 3);
  if (resp.error_code == 0) return;
  std::lock_guard lock(mu_);
  if (resp.error_code == static_cast<int16_t>(ErrorCode::UNKNOWN_MEMBER_ID)) member_id_.clear();
  if (resp.error_code == static_cast<int16_t>(ErrorCode::NOT_COORDINATOR) ||
      resp.error_code == static_cast<int16_t>(ErrorCode::COORDINATOR_NOT_AVAILABLE))
    coordinator_.reset();
  need_join_ = true;  // REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, ...
}

std::map<GroupConsumer::TopicPartition, std::string> GroupConsumer::find_leaders(
    const std::vector<std::string>& topics, std::map<std::string, int32_t>* partition_counts) {
  AdminClient client(options_.bootstrap, options_.client_id);
  auto resp = client.metadata(topics);
  const auto brokers = broker_addresses(resp);
  std::map<TopicPartition, std::string> out;
  for (const auto& t : resp.topics) {
    if (t.error_code != 0 || !t.name) continue;
    if (partition_counts) (*partition_counts)[*t.name] = static_cast<int32_t>(t.partitions.size());
    for (const auto& p : t.partitions)
      if (auto it = brokers.find(p.leader_id); it != brokers.end()) out[{*t.name, p.partition_index}] = it->second;
  }
  return out;
}

AdminClient& GroupConsumer::leader_of(const TopicPartition& tp,
                                      std::map<std::string, std::unique_ptr<AdminClient>>& clients,
                                      std::map<TopicPartition, std::string>& leaders) {
  auto it = leaders.find(tp);
  if (it == leaders.end()) throw AdminError(tp.first + "-" + std::to_string(tp.second) + " has no leader");
  auto& c = clients[it->second];
  if (!c) c = std::make_unique<AdminClient>(it->second, options_.client_id);
  return *c;
}

std::map<GroupConsumer::TopicPartition, int64_t> GroupConsumer::list_offsets(
    const std::vector<TopicPartition>& partitions, int64_t which) {
  std::map<std::string, std::unique_ptr<TopicLayout>> layouts;  // one Metadata per topic
  std::map<TopicPartition, int64_t> out;
  for (const auto& tp : partitions) {
    auto& layout = layouts[tp.first];
    if (!layout) layout = std::make_unique<TopicLayout>(options_.bootstrap, tp.first);
    out[tp] = layout->list_offset(tp.second, which);
  }
  return out;
}

void GroupConsumer::fill_positions(const std::vector<TopicPartition>& assigned) {
  std::map<TopicPartition, int64_t> positions = committed(assigned);
  std::vector<TopicPartition> uncommitted;
  for (const auto& tp : assigned)
    if (auto it = positions.find(tp); it == positions.end() || it->second < 0) uncommitted.push_back(tp);
  for (const auto& [tp, at] :
       list_offsets(uncommitted, options_.from_earliest ? TopicLayout::kEarliest : TopicLayout::kLatest))
    positions[tp] = at;
  std::lock_guard lock(mu_);
  for (auto& [tp, at] : positions)
    if (std::find(assigned_.begin(), assigned_.end(), tp) != assigned_.end()) positions_.try_emplace(tp, at);
}

std::map<GroupConsumer::TopicPartition, int64_t> GroupConsumer::committed(
    const std::vector<TopicPartition>& partitions) {
  DialerScope dialer(options_.dialer);
  std::map<TopicPartition, int64_t> out;
  if (partitions.empty()) return out;
  CoordinatorClient coord(options_.bootstrap, options_.group, options_.client_id, kCoordinatorRetry);
  OffsetFetchRequest req;
  req.group_id = options_.group;
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const auto& [t, p] : partitions) by_topic[t].push_back(p);
  req.topics = std::vector<OffsetFetchRequest::OffsetFetchRequestTopic>{};
  for (const auto& [t, ps] : by_topic) {
    OffsetFetchRequest::OffsetFetchRequestTopic rt;
    rt.name = t;
    rt.partition_indexes = ps;
    req.topics->push_back(rt);
  }
  auto resp = coord.call<OffsetFetchResponse>(req, 5, offset_fetch_retriable_error);
  if (resp.error_code != 0) throw AdminError("OffsetFetch: " + error_text(resp.error_code));
  for (const auto& rt : resp.topics)
    for (const auto& rp : rt.partitions) {
      // Still loading: not "no committed offset"; the member joins again.
      if (is_retriable_coordinator_error(rp.error_code))
        throw AdminError("OffsetFetch " + rt.name + "-" + std::to_string(rp.partition_index) + ": " +
                         error_text(rp.error_code));
      out[{rt.name, rp.partition_index}] = rp.error_code == 0 ? rp.committed_offset : -1;
    }
  return out;
}

void GroupConsumer::commit(const std::map<TopicPartition, int64_t>& offsets_in) {
  DialerScope dialer(options_.dialer);
  std::map<TopicPartition, int64_t> offsets = offsets_in;
  OffsetCommitRequest req;
  {
    std::lock_guard lock(mu_);
    if (offsets.empty()) offsets = positions_;
    req.generation_id_or_member_epoch = generation_;
    req.member_id = member_id_;
  }
  if (offsets.empty()) return;
  req.group_id = options_.group;
  std::map<std::string, std::vector<std::pair<int32_t, int64_t>>> by_topic;
  for (const auto& [tp, o] : offsets) by_topic[tp.first].push_back({tp.second, o});
  for (const auto& [t, ps] : by_topic) {
    OffsetCommitRequest::OffsetCommitRequestTopic rt;
    rt.name = t;
    for (auto [p, o] : ps) {
      OffsetCommitRequest::OffsetCommitRequestPartition rp;
      rp.partition_index = p;
      rp.committed_offset = o;
      rt.partitions.push_back(rp);
    }
    req.topics.push_back(rt);
  }
  CoordinatorClient coord(options_.bootstrap, options_.group, options_.client_id, kCoordinatorRetry);
  auto resp = coord.call<OffsetCommitResponse>(req, 5, offset_commit_retriable_error);
  for (const auto& rt : resp.topics)
    for (const auto& rp : rt.partitions)
      if (rp.error_code != 0)
        throw AdminError("OffsetCommit " + rt.name + "-" + std::to_string(rp.partition_index) + ": " +
                         error_text(rp.error_code));
}

void GroupConsumer::seek(const std::map<TopicPartition, int64_t>& offsets) {
  std::lock_guard lock(mu_);
  for (const auto& [tp, o] : offsets) positions_[tp] = o;
}

void GroupConsumer::seek_to(const std::vector<TopicPartition>& partitions, bool to_end) {
  DialerScope dialer(options_.dialer);
  seek(list_offsets(partitions, to_end ? TopicLayout::kLatest : TopicLayout::kEarliest));
}

std::vector<ConsumedRecord> GroupConsumer::poll(int32_t timeout_ms, int32_t max_bytes) {
  DialerScope dialer(options_.dialer);
  auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  std::map<TopicPartition, int64_t> positions;
  int32_t generation;
  {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [this] {
      return stopping_ || (!need_join_ && !assigned_.empty() && positions_.size() == assigned_.size());
    });
    if (assigned_.empty() || need_join_) return {};
    for (const auto& tp : assigned_)
      if (auto it = positions_.find(tp); it != positions_.end()) positions[tp] = it->second;
    generation = generation_;
  }
  if (options_.auto_commit) {
    try {
      commit(positions);
    } catch (const std::exception&) {
    }
  }
  std::vector<std::string> topics;
  for (const auto& [tp, _] : positions)
    if (topics.empty() || topics.back() != tp.first) topics.push_back(tp.first);
  auto leaders = find_leaders(topics, nullptr);
  std::map<std::string, std::unique_ptr<AdminClient>> clients;
  std::map<std::string, std::vector<TopicPartition>> by_leader;
  for (const auto& [tp, _] : positions)
    if (auto it = leaders.find(tp); it != leaders.end()) by_leader[it->second].push_back(tp);
  std::vector<ConsumedRecord> out;
  int64_t bytes_out = 0;
  do {
    for (const auto& [address, tps] : by_leader) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      FetchRequest req;
      req.replica_id = -1;
      // One leader: a long poll; several: short ones in turn, until any has data.
      req.max_wait_ms = static_cast<int32_t>(std::clamp<int64_t>(by_leader.size() == 1 ? left : 100, 0, left));
      req.min_bytes = 1;
      req.max_bytes = max_bytes;
      std::map<std::string, FetchRequest::FetchTopic> topics_req;
      for (const auto& tp : tps) {
        auto& ft = topics_req[tp.first];
        ft.topic = tp.first;
        FetchRequest::FetchPartition fp;
        fp.partition = tp.second;
        fp.fetch_offset = positions[tp];
        fp.partition_max_bytes = max_bytes;
        ft.partitions.push_back(fp);
      }
      for (auto& [_, ft] : topics_req) req.topics.push_back(ft);
      std::vector<uint8_t> keep;
      auto& c = clients[address];
      if (!c) c = std::make_unique<AdminClient>(address, options_.client_id);
      auto resp = c->call<FetchResponse>(req, 11, &keep);
      for (const auto& rt : resp.responses) {
        for (const auto& pd : rt.partitions) {
          TopicPartition tp{rt.topic, pd.partition_index};
          if (pd.error_code != 0) continue;
          for_each_batch(pd.records.memory, [&](std::span<const uint8_t> batch) {
            if (bytes_out >= max_bytes) return false;
            BatchView view(batch);
            if (view.next_offset() <= positions[tp]) return true;
            if (!view.is_control()) {
              for (auto& r : decode_record_batch(batch)) {
                if (r.offset < positions[tp]) continue;
                bytes_out += static_cast<int64_t>((r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0));
                out.push_back(
                    {tp.first, tp.second, r.offset, r.timestamp, optional_text(r.key), optional_text(r.value)});
              }
            }
            positions[tp] = view.next_offset();
            return true;
          });
        }
      }
    }
  } while (out.empty() && Clock::now() < deadline && by_leader.size() > 1);
  std::lock_guard lock(mu_);
  if (generation_ == generation)
    for (const auto& [tp, o] : positions)
      if (positions_.count(tp)) positions_[tp] = o;
  return out;
}

}  // namespace runnel::app
