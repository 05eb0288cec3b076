#pragma once
// `runnel group delete GROUP...` and `runnel group seek GROUP --to WHERE`:
// consumer-group administration like kafka-consumer-groups.sh --delete and
// --reset-offsets --execute (rpk group delete / seek), through the Kafka
// protocol: FindCoordinator, DeleteGroups, OffsetFetch, ListOffsets on the
// partitions' leaders, OffsetCommit (generation -1: only an empty group's
// offsets can be moved, as Kafka requires). Exit codes: 0 done, 1 refused.
#include <ostream>
#include <string>
#include <vector>

namespace runnel::app {

int group_delete(const std::vector<std::string>& groups, const std::string& bootstrap, std::ostream& out,
                 std::ostream& err);

// to: beginning | end | OFFSET | @TIMESTAMP_MS. Moves the committed offset of
// every partition of `topics` (every partition the group has committed when
// empty) and prints the new ones.
int group_seek(const std::string& group, const std::string& to, const std::vector<std::string>& topics,
               const std::string& bootstrap, std::ostream& out, std::ostream& err);

}  // namespace runnel::app
