#pragma once
// The tools' connection to the coordinator of a consumer group (or of a
// transactional id), with the retries every Kafka client makes: while a new
// coordinator replays the group's offsets it answers
// COORDINATOR_LOAD_IN_PROGRESS, and while leadership of the group's
// __consumer_offsets partition moves (or the topic is being created) the
// brokers answer COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR. A tool that
// took those answers at their word would print "no committed offset" or
// fail in the first moments of a cluster, or after a failover.
//
// Not thread-safe (one AdminClient underneath); throws AdminError.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "app/admin_client.h"
#include "base/error_code.h"

namespace runnel::app {

// Whether `error` is one of the coordinator errors clients retry.
bool is_retriable_coordinator_error(int16_t error);

// The retriable coordinator error of an answer, if any: an OffsetFetch's own
// (v2+) or one of its partitions' (v0-1 put it there), an OffsetCommit's
// partitions'.
int16_t offset_fetch_retriable_error(const protocol::OffsetFetchResponse& response);
int16_t offset_commit_retriable_error(const protocol::OffsetCommitResponse& response);

// The error of an answer's one entry (a DescribeGroups' group, a
// DeleteGroups' result, ...), 0 when it has not exactly one.
template <class Entries>
int16_t sole_entry_error(const Entries& entries) {
  return entries.size() == 1 ? entries[0].error_code : int16_t{0};
}

class CoordinatorClient {
 public:
  // How long a call keeps asking, by default, before it returns the last
  // answer (a new coordinator loads in well under a second; a failover
  // takes the control plane's session timeout).
  static constexpr std::chrono::milliseconds kRetryFor{30000};
  // FindCoordinator's key types.
  static constexpr int8_t kGroup = 0;
  static constexpr int8_t kTransaction = 1;

  // The coordinator of `key` (a group id, or a transactional id with
  // kTransaction).
  CoordinatorClient(std::string bootstrap, std::string key, std::string client_id = "runnel-cli",
                    std::chrono::milliseconds retry_for = kRetryFor, int8_t key_type = kGroup);

  // Sends `request` at `version` to the coordinator and returns its answer,
  // asking again (every 100 ms, finding the coordinator anew after
  // NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost connection: a
  // coordinator that died) while `retriable_error(answer)` names a
  // retriable coordinator error, for up to the retry time; then the last
  // answer is returned as it is (or the connection's AdminError thrown).
  template <class Response, class Request, class RetriableError>
  Response call(const Request& request, int16_t version, RetriableError retriable_error) {
    const auto deadline = std::chrono::steady_clock::now() + retry_for_;
    for (;;) {
      AdminClient& coordinator = client();  // its own failures are final
      std::optional<Response> response;
      try {
        response = coordinator.call<Response>(request, version);
      } catch (const AdminError&) {
        if (std::chrono::steady_clock::now() >= deadline) throw;
      }
      const int16_t error = response ? retriable_error(*response) : int16_t{0};
      if (response && (!is_retriable_coordinator_error(error) || std::chrono::steady_clock::now() >= deadline))
        return std::move(*response);
      // Loading: the same coordinator, again. Otherwise (moved, or gone) find it anew.
      if (error != code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)) coordinator_.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // The connection to the coordinator, found first if need be (FindCoordinator,
  // asked again while the coordinator is not available or the one named
  // cannot be reached, up to the retry time; a bootstrap broker that cannot
  // be reached fails at once).
  AdminClient& client();
  // The coordinator's node id (found first if need be).
  int32_t node_id();

 private:
  std::string bootstrap_;
  std::string key_;
  int8_t key_type_;
  int32_t node_id_ = -1;
  std::string client_id_;
  std::chrono::milliseconds retry_for_;
  std::unique_ptr<AdminClient> coordinator_;
};

}  // namespace runnel::app
