// ControlPlane's share of partition reassignment (KIP-455): the
// AlterPartitionReassignments writes any broker makes, and the controller's
// completion of moves whose new replicas have caught up. The rules are
// controller/reassignment.h's; this file reads the cache and writes etcd.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <map>
#include <thread>

#include "cluster/control_plane.h"
#include "cluster/controller/reassignment.h"

namespace runnel::cluster {
namespace {

controller::Placement placement_of(const metadata::TopicRecord& record, int32_t partition) {
  controller::Placement out;
  out.replicas = record.replicas[static_cast<size_t>(partition)];
  if (auto it = record.reassignments.find(partition); it != record.reassignments.end()) out.reassignment = it->second;
  return out;
}

void set_placement(metadata::TopicRecord& record, int32_t partition, const controller::Placement& placement) {
  record.replicas[static_cast<size_t>(partition)] = placement.replicas;
  if (placement.reassignment)
    record.reassignments[partition] = *placement.reassignment;
  else
    record.reassignments.erase(partition);
}

}  // namespace

std::vector<ReassignmentResult> ControlPlane::alter_reassignments(const std::vector<ReassignmentRequest>& requests,
                                                                  bool allow_replication_factor_change) {
  std::vector<ReassignmentResult> results(requests.size());
  std::vector<std::string> topics;  // in the order the request names them
  std::map<std::string, std::vector<size_t>> by_topic;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& indexes = by_topic[requests[i].topic];
    if (indexes.empty()) topics.push_back(requests[i].topic);
    indexes.push_back(i);
  }
  auto synced = catch_up_with_etcd();
  for (const auto& topic : topics) {
    const auto& indexes = by_topic[topic];
    bool done = false;
    for (int attempt = 0; synced && !done && attempt < 5; ++attempt) {
      done = try_alter_reassignments(topic, requests, indexes, allow_replication_factor_change, results);
      if (done) break;
      // A newer record or state (an ISR change, the controller): decide again on it.
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
      synced = catch_up_with_etcd();
    }
    if (!done)
      for (size_t i : indexes)
        if (results[i].error == ErrorCode::NONE)
          results[i] = {ErrorCode::REQUEST_TIMED_OUT, "The cluster's metadata store (etcd) could not be reached."};
  }
  return results;
}

bool ControlPlane::try_alter_reassignments(const std::string& topic, const std::vector<ReassignmentRequest>& requests,
                                           const std::vector<size_t>& indexes, bool allow_replication_factor_change,
                                           std::vector<ReassignmentResult>& results) {
  auto view = cache_->topic(topic);
  if (!view) {
    for (size_t i : indexes)
      results[i] = {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, controller::unknown_topic_message(topic)};
    return true;
  }
  const auto registered = live_brokers();
  const auto stopping = stopping_brokers();
  const bool unclean = unclean_election_enabled(view->record);
  auto record = view->record;
  std::map<int32_t, metadata::PartitionState> states;  // the next state of each partition that changes
  std::vector<size_t> changed;
  for (size_t i : indexes) {
    const auto& request = requests[i];
    const int32_t p = request.partition;
    results[i] = {};
    if (p < 0 || p >= static_cast<int32_t>(record.replicas.size()) ||
        p >= static_cast<int32_t>(view->partitions.size())) {
      results[i] = {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, controller::unknown_partition_message(topic, p)};
      continue;
    }
    const auto placement = placement_of(record, p);
    const auto state = states.count(p) ? states[p] : view->partitions[static_cast<size_t>(p)];
    controller::Change change;
    std::string message;
    if (!request.target) {
      if (auto error = controller::revert(placement, state, registered, stopping, unclean, topic, p, change, &message);
          error != ErrorCode::NONE) {
        results[i] = {error, message};
        continue;
      }
    } else {
      if (auto error = controller::validate_target(*request.target, registered, &message); error != ErrorCode::NONE) {
        results[i] = {error, message};
        continue;
      }
      if (auto error =
              controller::check_replication_factor(controller::original_replicas(placement).size(),
                                                   request.target->size(), allow_replication_factor_change, &message);
          error != ErrorCode::NONE) {
        results[i] = {error, message};
        continue;
      }
      change.placement = controller::start(placement, *request.target);
      change.state = state;
      if (auto done = controller::complete(change.placement, state, registered, stopping))
        change = *done;
      else if (change.placement != placement)
        ++change.state.partition_epoch;
    }
    if (change.placement == placement) continue;  // nothing moves
    set_placement(record, p, change.placement);
    states[p] = change.state;
    changed.push_back(i);
  }
  if (changed.empty()) return true;
  // One write: the topic's record and the changed partitions' states (also
  // those still implicit, whose replicas are about to change under them).
  std::vector<etcd::Compare> compares{etcd::Compare::mod_revision(keys_.topic(topic), view->mod_revision)};
  std::vector<etcd::Op> puts{etcd::Op::put(keys_.topic(topic), metadata::encode_topic(record))};
  for (const auto& [p, state] : states) {
    const auto key = keys_.partition(topic, p);
    const auto& current = view->partitions[static_cast<size_t>(p)];
    compares.push_back(etcd::Compare::mod_revision(key, current.mod_revision));
    puts.push_back(etcd::Op::put(key, metadata::encode_partition_state(stamped(current, state))));
  }
  etcd::TxnResponse txn;
  if (auto status = admin_client_.txn(compares, puts, {}, txn); !status.is_ok()) {
    for (size_t i : changed)
      results[i] = {ErrorCode::REQUEST_TIMED_OUT,
                    "The cluster's metadata store (etcd) cannot be reached: " + status.to_string()};
    return true;
  }
  if (!txn.succeeded) return false;
  for (const auto& [p, state] : states) {
    auto move = record.reassignments.find(p);
    if (move == record.reassignments.end())
      spdlog::info("partition {}-{}: replicas now {} (leader {}, leader epoch {}, ISR {})", topic, p,
                   fmt::join(record.replicas[static_cast<size_t>(p)], ","), state.leader, state.leader_epoch,
                   fmt::join(state.isr, ","));
    else
      spdlog::info("partition {}-{}: reassignment started: replicas {} (adding {}, removing {})", topic, p,
                   fmt::join(record.replicas[static_cast<size_t>(p)], ","), fmt::join(move->second.adding, ","),
                   fmt::join(move->second.removing, ","));
  }
  await_cache(txn.revision);
  return true;
}

void ControlPlane::complete_reassignments(const std::set<int32_t>& live, const std::set<int32_t>& stopping) {
  for (const auto& view : cache_->topics()) {
    if (view.record.reassignments.empty()) continue;
    auto record = view.record;
    std::map<int32_t, metadata::PartitionState> states;
    for (const auto& [p, move] : view.record.reassignments) {
      if (p < 0 || p >= static_cast<int32_t>(view.partitions.size())) continue;
      auto done =
          controller::complete(placement_of(view.record, p), view.partitions[static_cast<size_t>(p)], live, stopping);
      if (!done) continue;
      set_placement(record, p, done->placement);
      states[p] = done->state;
    }
    if (states.empty()) continue;
    std::vector<etcd::Compare> compares{etcd::Compare::mod_revision(keys_.topic(view.name), view.mod_revision),
                                        etcd::Compare::create_revision(keys_.controller(), claim_revision_)};
    std::vector<etcd::Op> puts{etcd::Op::put(keys_.topic(view.name), metadata::encode_topic(record))};
    for (const auto& [p, state] : states) {
      const auto key = keys_.partition(view.name, p);
      const auto& current = view.partitions[static_cast<size_t>(p)];
      compares.push_back(etcd::Compare::mod_revision(key, current.mod_revision));
      puts.push_back(etcd::Op::put(key, metadata::encode_partition_state(stamped(current, state))));
    }
    etcd::TxnResponse txn;
    if (!client_.txn(compares, puts, {}, txn).is_ok()) return;  // etcd unreachable: the next pass retries
    if (!txn.succeeded) continue;  // newer state (or a newer controller): the watch brings it
    for (const auto& [p, state] : states)
      spdlog::info("partition {}-{}: reassignment done: replicas {} (leader {}, leader epoch {}, ISR {})", view.name, p,
                   fmt::join(record.replicas[static_cast<size_t>(p)], ","), state.leader, state.leader_epoch,
                   fmt::join(state.isr, ","));
  }
}

}  // namespace runnel::cluster
