#pragma once
// Declarations of every API handler; one .cc per API (or per small family).
// The registry in kafka/handler_registry.cc lists them with their versions.
#include "kafka/handler.h"
#include "protocol/messages.h"

namespace runnel {

asio::awaitable<protocol::SaslHandshakeResponse> handle_sasl_handshake(RequestContext&,
                                                                       protocol::SaslHandshakeRequest&);
asio::awaitable<protocol::SaslAuthenticateResponse> handle_sasl_authenticate(RequestContext&,
                                                                             protocol::SaslAuthenticateRequest&);
asio::awaitable<protocol::DescribeUserScramCredentialsResponse> handle_describe_user_scram_credentials(
    RequestContext&, protocol::DescribeUserScramCredentialsRequest&);
asio::awaitable<protocol::AlterUserScramCredentialsResponse> handle_alter_user_scram_credentials(
    RequestContext&, protocol::AlterUserScramCredentialsRequest&);
asio::awaitable<protocol::DescribeClientQuotasResponse> handle_describe_client_quotas(
    RequestContext&, protocol::DescribeClientQuotasRequest&);
asio::awaitable<protocol::AlterClientQuotasResponse> handle_alter_client_quotas(RequestContext&,
                                                                                protocol::AlterClientQuotasRequest&);
asio::awaitable<protocol::CreateAclsResponse> handle_create_acls(RequestContext&, protocol::CreateAclsRequest&);
asio::awaitable<protocol::DescribeAclsResponse> handle_describe_acls(RequestContext&, protocol::DescribeAclsRequest&);
asio::awaitable<protocol::DeleteAclsResponse> handle_delete_acls(RequestContext&, protocol::DeleteAclsRequest&);
asio::awaitable<HandlerResult> handle_produce(RequestContext&, protocol::Reader&);
asio::awaitable<protocol::FetchResponse> handle_fetch(RequestContext&, protocol::FetchRequest&);
asio::awaitable<protocol::ListOffsetsResponse> handle_list_offsets(RequestContext&, protocol::ListOffsetsRequest&);
asio::awaitable<protocol::MetadataResponse> handle_metadata(RequestContext&, protocol::MetadataRequest&);
asio::awaitable<protocol::CreateTopicsResponse> handle_create_topics(RequestContext&, protocol::CreateTopicsRequest&);
asio::awaitable<protocol::DeleteTopicsResponse> handle_delete_topics(RequestContext&, protocol::DeleteTopicsRequest&);
asio::awaitable<protocol::DeleteRecordsResponse> handle_delete_records(RequestContext&,
                                                                       protocol::DeleteRecordsRequest&);
asio::awaitable<protocol::OffsetForLeaderEpochResponse> handle_offset_for_leader_epoch(
    RequestContext&, protocol::OffsetForLeaderEpochRequest&);
asio::awaitable<protocol::DescribeConfigsResponse> handle_describe_configs(RequestContext&,
                                                                           protocol::DescribeConfigsRequest&);
asio::awaitable<protocol::AlterConfigsResponse> handle_alter_configs(RequestContext&, protocol::AlterConfigsRequest&);
asio::awaitable<protocol::CreatePartitionsResponse> handle_create_partitions(RequestContext&,
                                                                             protocol::CreatePartitionsRequest&);
asio::awaitable<protocol::IncrementalAlterConfigsResponse> handle_incremental_alter_configs(
    RequestContext&, protocol::IncrementalAlterConfigsRequest&);
asio::awaitable<protocol::DescribeClusterResponse> handle_describe_cluster(RequestContext&,
                                                                           protocol::DescribeClusterRequest&);
asio::awaitable<protocol::DescribeTopicPartitionsResponse> handle_describe_topic_partitions(
    RequestContext&, protocol::DescribeTopicPartitionsRequest&);
asio::awaitable<protocol::InitProducerIdResponse> handle_init_producer_id(RequestContext&,
                                                                          protocol::InitProducerIdRequest&);
asio::awaitable<protocol::ListConfigResourcesResponse> handle_list_config_resources(
    RequestContext&, protocol::ListConfigResourcesRequest&);
asio::awaitable<protocol::ElectLeadersResponse> handle_elect_leaders(RequestContext&, protocol::ElectLeadersRequest&);
asio::awaitable<protocol::AlterPartitionReassignmentsResponse> handle_alter_partition_reassignments(
    RequestContext&, protocol::AlterPartitionReassignmentsRequest&);
asio::awaitable<protocol::ListPartitionReassignmentsResponse> handle_list_partition_reassignments(
    RequestContext&, protocol::ListPartitionReassignmentsRequest&);
asio::awaitable<protocol::AlterReplicaLogDirsResponse> handle_alter_replica_log_dirs(
    RequestContext&, protocol::AlterReplicaLogDirsRequest&);
asio::awaitable<protocol::DescribeLogDirsResponse> handle_describe_log_dirs(RequestContext&,
                                                                            protocol::DescribeLogDirsRequest&);
asio::awaitable<protocol::DescribeProducersResponse> handle_describe_producers(RequestContext&,
                                                                               protocol::DescribeProducersRequest&);
asio::awaitable<protocol::AddPartitionsToTxnResponse> handle_add_partitions_to_txn(
    RequestContext&, protocol::AddPartitionsToTxnRequest&);
asio::awaitable<protocol::AddOffsetsToTxnResponse> handle_add_offsets_to_txn(RequestContext&,
                                                                             protocol::AddOffsetsToTxnRequest&);
asio::awaitable<protocol::EndTxnResponse> handle_end_txn(RequestContext&, protocol::EndTxnRequest&);
asio::awaitable<protocol::TxnOffsetCommitResponse> handle_txn_offset_commit(RequestContext&,
                                                                            protocol::TxnOffsetCommitRequest&);
asio::awaitable<protocol::ListTransactionsResponse> handle_list_transactions(RequestContext&,
                                                                             protocol::ListTransactionsRequest&);
asio::awaitable<protocol::DescribeTransactionsResponse> handle_describe_transactions(
    RequestContext&, protocol::DescribeTransactionsRequest&);
asio::awaitable<protocol::WriteTxnMarkersResponse> handle_write_txn_markers(RequestContext&,
                                                                            protocol::WriteTxnMarkersRequest&);
asio::awaitable<protocol::FindCoordinatorResponse> handle_find_coordinator(RequestContext&,
                                                                           protocol::FindCoordinatorRequest&);
asio::awaitable<protocol::JoinGroupResponse> handle_join_group(RequestContext&, protocol::JoinGroupRequest&);
asio::awaitable<protocol::SyncGroupResponse> handle_sync_group(RequestContext&, protocol::SyncGroupRequest&);
asio::awaitable<protocol::HeartbeatResponse> handle_heartbeat(RequestContext&, protocol::HeartbeatRequest&);
asio::awaitable<protocol::LeaveGroupResponse> handle_leave_group(RequestContext&, protocol::LeaveGroupRequest&);
asio::awaitable<protocol::OffsetCommitResponse> handle_offset_commit(RequestContext&, protocol::OffsetCommitRequest&);
asio::awaitable<protocol::OffsetFetchResponse> handle_offset_fetch(RequestContext&, protocol::OffsetFetchRequest&);
asio::awaitable<protocol::OffsetDeleteResponse> handle_offset_delete(RequestContext&, protocol::OffsetDeleteRequest&);
asio::awaitable<protocol::DescribeGroupsResponse> handle_describe_groups(RequestContext&,
                                                                         protocol::DescribeGroupsRequest&);
asio::awaitable<protocol::ListGroupsResponse> handle_list_groups(RequestContext&, protocol::ListGroupsRequest&);
asio::awaitable<protocol::DeleteGroupsResponse> handle_delete_groups(RequestContext&, protocol::DeleteGroupsRequest&);
asio::awaitable<protocol::ConsumerGroupHeartbeatResponse> handle_consumer_group_heartbeat(
    RequestContext&, protocol::ConsumerGroupHeartbeatRequest&);
asio::awaitable<protocol::ConsumerGroupDescribeResponse> handle_consumer_group_describe(
    RequestContext&, protocol::ConsumerGroupDescribeRequest&);

}  // namespace runnel
