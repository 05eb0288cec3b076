#pragma once
// `runnel transactions list` and `runnel transactions describe ID`: the
// transactional ids of a cluster, like kafka-transactions.sh, through the
// Kafka protocol (Metadata, ListTransactions on every broker; FindCoordinator
// and DescribeTransactions for one id).
#include <ostream>
#include <string>

namespace runnel::app {

// Prints TRANSACTIONAL-ID COORDINATOR PRODUCER-ID STATE, one id a line.
// Returns the exit code.
int transactions_list(const std::string& bootstrap, std::ostream& out, std::ostream& err);

// Prints the id's coordinator, producer id and epoch, state, timeout, start
// time and the partitions of its open transaction. Returns the exit code.
int transactions_describe(const std::string& transactional_id, const std::string& bootstrap, std::ostream& out,
                          std::ostream& err);

}  // namespace runnel::app
