#include "app/record_sender.h"

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "base/error_code.h"
#include "protocol/compressor.h"
#include "protocol/messages.h"
#include "protocol/record_batch.h"
#include "protocol/record_codec.h"

namespace runnel::app {
namespace {

constexpr int32_t kProduceTimeoutMs = 30000;
constexpr auto kRetryFor = std::chrono::seconds(15);
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);

// Errors after which Kafka's clients refresh metadata and resend: the batch
// was not appended.
bool retriable(int16_t error) {
  switch (static_cast<ErrorCode>(error)) {
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::LEADER_NOT_AVAILABLE:
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
      return true;
    default:
      return false;
  }
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::vector<uint8_t>> bytes_of(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::vector<uint8_t>(s->begin(), s->end());
}

}  // namespace

std::vector<SentRecord> send_records(TopicLayout& layout, const std::string& topic,
                                     const std::vector<OutgoingRecord>& records, int16_t acks, int codec) {
  thread_local std::mt19937 rng(std::random_device{}());
  const int32_t partitions = layout.partitions();
  const int32_t sticky = static_cast<int32_t>(rng() % static_cast<uint32_t>(std::max(partitions, 1)));
  std::vector<SentRecord> out(records.size());
  std::map<int32_t, std::vector<size_t>> by_partition;  // partition -> indexes into records
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    int32_t p = r.partition ? *r.partition : r.key ? partition_for_key(*r.key, partitions) : sticky;
    out[i].partition = p;
    if (p < 0 || p >= partitions) {
      out[i].error = static_cast<int16_t>(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
      continue;
    }
    by_partition[p].push_back(i);
  }
  for (const auto& [partition, indexes] : by_partition) {
    std::vector<protocol::Record> batch_records;
    for (size_t i : indexes) {
      protocol::Record r;
      r.key = bytes_of(records[i].key);
      r.value = bytes_of(records[i].value);
      for (const auto& [key, value] : records[i].headers)
        r.headers.push_back({key, std::vector<uint8_t>(value.begin(), value.end())});
      batch_records.push_back(std::move(r));
    }
    auto batch = protocol::build_record_batch(batch_records, now_ms());
    if (codec != 0) {
      auto body = std::span<const uint8_t>(batch).subspan(protocol::kBatchHeaderSize);
      batch = protocol::recompress_batch(batch, body, codec, protocol::default_compression_level(codec));
    }
    protocol::ProduceRequest req;
    req.acks = acks;
    req.timeout_ms = kProduceTimeoutMs;
    protocol::ProduceRequest::TopicProduceData td;
    td.name = topic;
    protocol::ProduceRequest::PartitionProduceData pd;
    pd.index = partition;
    pd.records = protocol::Records::of(batch);
    td.partition_data.push_back(pd);
    req.topic_data.push_back(td);
    if (acks == 0) {  // Kafka answers nothing
      layout.leader(partition).send_only(req, 8);
      continue;
    }
    int16_t error = static_cast<int16_t>(ErrorCode::UNKNOWN_SERVER_ERROR);
    int64_t base = -1;
    std::string message;
    // As a client does: a leader that moved or is not known yet (a topic
    // just created in a cluster) is looked up again and the batch resent.
    // None of these errors means the batch was written.
    const auto deadline = std::chrono::steady_clock::now() + kRetryFor;
    for (auto backoff = kFirstBackoff;; backoff = std::min(backoff * 2, kMaxBackoff)) {
      bool retry = false;
      try {
        auto resp = layout.leader(partition).call<protocol::ProduceResponse>(req, 8);
        for (const auto& t : resp.responses)
          for (const auto& pr : t.partition_responses)
            if (pr.index == partition)
              error = pr.error_code, base = pr.base_offset, message = pr.error_message.value_or("");
        retry = retriable(error);
      } catch (const AdminError&) {
        if (std::chrono::steady_clock::now() + backoff >= deadline) throw;
        retry = true;
      }
      if (!retry || std::chrono::steady_clock::now() + backoff >= deadline) break;
      std::this_thread::sleep_for(backoff);
      try {
        layout.refresh();
      } catch (const AdminError&) {
        // The next attempt fails the same way, or the deadline ends it.
      }
    }
    for (size_t k = 0; k < indexes.size(); ++k) {
      auto& s = out[indexes[k]];
      s.error = error;
      s.message = message;
      s.offset = error == 0 ? base + static_cast<int64_t>(k) : -1;
    }
  }
  return out;
}

}  // namespace runnel::app
