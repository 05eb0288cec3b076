// librdkafka helpers shared by runnel-bench's Kafka modes (kafka_modes.cc, hard_modes.cc):
// configuration, client creation, topic creation through the Admin API, and the stamp that
// marks a latency-carrying value. Each call is on the calling thread's own objects.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>

#include "common.h"

namespace runnel::bench {

// "runnelB1": the first 8 bytes of a value that carries its intended send time (next 8).
constexpr uint64_t kMagic = 0x72756e6e656c4231ull;

// rd_kafka_conf_set, exiting on failure.
void set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v);
// bootstrap.servers and client.id from the options.
rd_kafka_conf_t* base_conf(const Options& o);
// The -X key=value properties.
void apply_props(rd_kafka_conf_t* c, const Options& o);
rd_kafka_t* make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf);
// Partition count of the topic as the broker reports it, or -1 if it does not exist.
int partition_count(rd_kafka_t* rk, const std::string& topic);
// Creates o.topic with o.partitions when it does not exist; returns its partition count.
int ensure_topic(const Options& o);

}  // namespace runnel::bench
