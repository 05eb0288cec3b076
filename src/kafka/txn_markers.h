#pragma once
// The partitions a transaction marker goes to (Broker::write_txn_markers,
// WriteTxnMarkers): what the transaction coordinator names when a
// transaction ends.
//
// Thread-safety: a plain value.
#include <cstdint>
#include <string>

namespace runnel {

struct TxnMarkerPartition {
  std::string topic;
  int32_t partition = -1;
};

}  // namespace runnel
