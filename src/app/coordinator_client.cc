#include "app/coordinator_client.h"

#include <utility>

namespace runnel::app {
namespace {

// The first retriable coordinator error of `items` (0 when none).
template <typename Range, typename ErrorOf>
int16_t first_retriable_error(const Range& items, ErrorOf error_of) {
  for (const auto& item : items)
    if (is_retriable_coordinator_error(error_of(item))) return error_of(item);
  return 0;
}

}  // namespace

bool is_retriable_coordinator_error(int16_t error) {
  return error == code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) ||
         error == code(ErrorCode::COORDINATOR_NOT_AVAILABLE) || error == code(ErrorCode::NOT_COORDINATOR);
}

int16_t offset_fetch_retriable_error(const protocol::OffsetFetchResponse& response) {
  if (is_retriable_coordinator_error(response.error_code)) return response.error_code;
  for (const auto& topic : response.topics)
    if (int16_t e = first_retriable_error(topic.partitions, [](const auto& p) { return p.error_code; })) return e;
  return 0;
}

int16_t offset_commit_retriable_error(const protocol::OffsetCommitResponse& response) {
  for (const auto& topic : response.topics)
    if (int16_t e = first_retriable_error(topic.partitions, [](const auto& p) { return p.error_code; })) return e;
  return 0;
}

CoordinatorClient::CoordinatorClient(std::string bootstrap, std::string key, std::string client_id,
                                     std::chrono::milliseconds retry_for, int8_t key_type)
    : bootstrap_(std::move(bootstrap)),
      key_(std::move(key)),
      key_type_(key_type),
      client_id_(std::move(client_id)),
      retry_for_(retry_for) {}

AdminClient& CoordinatorClient::client() {
  if (coordinator_) return *coordinator_;
  const auto deadline = std::chrono::steady_clock::now() + retry_for_;
  for (;;) {
    // Throws when the bootstrap broker cannot be reached, at once.
    auto resp = AdminClient::find_coordinator(bootstrap_, key_, key_type_, client_id_);
    if (resp.error_code == 0) {
      try {
        coordinator_ = std::make_unique<AdminClient>(resp.host + ":" + std::to_string(resp.port), client_id_);
        node_id_ = resp.node_id;
        return *coordinator_;
      } catch (const AdminError&) {
        // The coordinator named is down, its death not noticed yet: ask again.
        if (std::chrono::steady_clock::now() >= deadline) throw;
      }
    } else if (!is_retriable_coordinator_error(resp.error_code) || std::chrono::steady_clock::now() >= deadline) {
      throw AdminError("FindCoordinator for '" + key_ + "': " + error_text(resp.error_code, resp.error_message));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int32_t CoordinatorClient::node_id() {
  client();
  return node_id_;
}

}  // namespace runnel::app
