// The registry: every API runnel serves and exactly the versions implemented
// and tested. ApiVersions answers from this list, dispatch uses it, and a
// request outside a range is refused (UNSUPPORTED_VERSION for ApiVersions,
// a closed connection otherwise, as Kafka does).
//
// Fetch starts at v4: older versions carry the pre-0.11 message formats,
// which runnel does not store. Produce v0-2 messages in those formats are
// up-converted to record batches, as Kafka 3.x does; serving them matters to
// more than old clients: librdkafka before 2.11.1 compresses with gzip,
// snappy or lz4 only when the broker lists Produce v0 (librdkafka #5130).
#include <algorithm>
#include <array>

#include "kafka/handler.h"
#include "kafka/handlers/api_versions.h"
#include "kafka/handlers/handlers.h"
#include "protocol/messages.h"

namespace runnel {
namespace {

using namespace protocol;

constexpr HandlerEntry raw(int16_t key, int16_t min, int16_t max, int16_t flexible_from, HandlerFn fn) {
  return HandlerEntry{key, min, max, flexible_from, fn};
}

// The newest versions are Kafka 4.0's. Produce v12 is v11 on the wire; it is
// what a transactional client sends once it sees transaction.version 2
// finalized (KIP-890 part 2), which runnel does not advertise, so
// transactional Java clients stay on v11 and only others send v12 (see
// handlers/produce.cc for what a transactional v12 gets).
const std::array kHandlers = {
    raw(ProduceRequest::kApiKey, 0, 12, ProduceRequest::kFlexibleFrom, &handle_produce),
    make_handler<FetchRequest, FetchResponse, &handle_fetch>(4, 17),
    make_handler<ListOffsetsRequest, ListOffsetsResponse, &handle_list_offsets>(0, 10),
    make_handler<MetadataRequest, MetadataResponse, &handle_metadata>(0, 13),
    raw(ApiVersionsRequest::kApiKey, 0, 4, ApiVersionsRequest::kFlexibleFrom, &handle_api_versions),
    make_handler<CreateTopicsRequest, CreateTopicsResponse, &handle_create_topics>(0, 7),
    make_handler<DeleteTopicsRequest, DeleteTopicsResponse, &handle_delete_topics>(0, 6),
    make_handler<DeleteRecordsRequest, DeleteRecordsResponse, &handle_delete_records>(0, 2),
    make_handler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, &handle_offset_for_leader_epoch>(0, 4),
    make_handler<DescribeConfigsRequest, DescribeConfigsResponse, &handle_describe_configs>(0, 4),
    make_handler<AlterConfigsRequest, AlterConfigsResponse, &handle_alter_configs>(0, 2),
    make_handler<CreatePartitionsRequest, CreatePartitionsResponse, &handle_create_partitions>(0, 3),
    make_handler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, &handle_incremental_alter_configs>(0,
                                                                                                                     1),
    make_handler<DescribeClusterRequest, DescribeClusterResponse, &handle_describe_cluster>(0, 2),
    make_handler<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, &handle_describe_topic_partitions>(0,
                                                                                                                     0),
    // Idempotent and transactional producers. AddPartitionsToTxn v4-5
    // (KIP-890) are brokers' batches of transactions to add or verify.
    make_handler<InitProducerIdRequest, InitProducerIdResponse, &handle_init_producer_id>(0, 4),
    make_handler<DescribeProducersRequest, DescribeProducersResponse, &handle_describe_producers>(0, 0),
    make_handler<AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, &handle_alter_replica_log_dirs>(0, 2),
    make_handler<DescribeLogDirsRequest, DescribeLogDirsResponse, &handle_describe_log_dirs>(0, 4),
    make_handler<ElectLeadersRequest, ElectLeadersResponse, &handle_elect_leaders>(0, 2),
    make_handler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
                 &handle_alter_partition_reassignments>(0, 1),
    make_handler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
                 &handle_list_partition_reassignments>(0, 0),
    make_handler<ListConfigResourcesRequest, ListConfigResourcesResponse, &handle_list_config_resources>(0, 1),
    make_handler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, &handle_add_partitions_to_txn>(0, 5),
    make_handler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, &handle_add_offsets_to_txn>(0, 3),
    make_handler<EndTxnRequest, EndTxnResponse, &handle_end_txn>(0, 3),
    make_handler<TxnOffsetCommitRequest, TxnOffsetCommitResponse, &handle_txn_offset_commit>(0, 3),
    make_handler<ListTransactionsRequest, ListTransactionsResponse, &handle_list_transactions>(0, 0),
    make_handler<DescribeTransactionsRequest, DescribeTransactionsResponse, &handle_describe_transactions>(0, 0),
    // Transactions: the partition side (markers written for a coordinator).
    make_handler<WriteTxnMarkersRequest, WriteTxnMarkersResponse, &handle_write_txn_markers>(0, 1),
    // Consumer groups.
    make_handler<FindCoordinatorRequest, FindCoordinatorResponse, &handle_find_coordinator>(0, 4),
    make_handler<JoinGroupRequest, JoinGroupResponse, &handle_join_group>(0, 9),
    make_handler<SyncGroupRequest, SyncGroupResponse, &handle_sync_group>(0, 5),
    make_handler<HeartbeatRequest, HeartbeatResponse, &handle_heartbeat>(0, 4),
    make_handler<LeaveGroupRequest, LeaveGroupResponse, &handle_leave_group>(0, 5),
    make_handler<OffsetCommitRequest, OffsetCommitResponse, &handle_offset_commit>(0, 9),
    make_handler<OffsetFetchRequest, OffsetFetchResponse, &handle_offset_fetch>(0, 9),
    make_handler<OffsetDeleteRequest, OffsetDeleteResponse, &handle_offset_delete>(0, 0),
    make_handler<DescribeGroupsRequest, DescribeGroupsResponse, &handle_describe_groups>(0, 6),
    make_handler<ListGroupsRequest, ListGroupsResponse, &handle_list_groups>(0, 5),
    make_handler<DeleteGroupsRequest, DeleteGroupsResponse, &handle_delete_groups>(0, 2),
    // The next-generation consumer group protocol (KIP-848), as Kafka 4.0.
    make_handler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, &handle_consumer_group_heartbeat>(0, 1),
    make_handler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, &handle_consumer_group_describe>(0, 1),
    // Authentication (security/). SaslAuthenticate v2 is v1, flexible.
    make_handler<SaslHandshakeRequest, SaslHandshakeResponse, &handle_sasl_handshake>(0, 1),
    make_handler<SaslAuthenticateRequest, SaslAuthenticateResponse, &handle_sasl_authenticate>(0, 2),
    make_handler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
                 &handle_describe_user_scram_credentials>(0, 0),
    make_handler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
                 &handle_alter_user_scram_credentials>(0, 0),
    // Client quotas (config/client_quota_config.h).
    make_handler<DescribeClientQuotasRequest, DescribeClientQuotasResponse, &handle_describe_client_quotas>(0, 1),
    make_handler<AlterClientQuotasRequest, AlterClientQuotasResponse, &handle_alter_client_quotas>(0, 1),
    // ACLs (security/acl.h, kafka/authz.h).
    make_handler<DescribeAclsRequest, DescribeAclsResponse, &handle_describe_acls>(0, 3),
    make_handler<CreateAclsRequest, CreateAclsResponse, &handle_create_acls>(0, 3),
    make_handler<DeleteAclsRequest, DeleteAclsResponse, &handle_delete_acls>(0, 3),
};

}  // namespace

std::span<const HandlerEntry> handlers() { return kHandlers; }

const HandlerEntry* find_handler(int16_t api_key) {
  auto it = std::find_if(kHandlers.begin(), kHandlers.end(), [&](const auto& h) { return h.api_key == api_key; });
  return it == kHandlers.end() ? nullptr : &*it;
}

}  // namespace runnel
