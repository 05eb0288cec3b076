#pragma once
// Renders what the broker knows about itself in Prometheus' text exposition
// format (version 0.0.4) for /metrics: requests per API and their latency
// histograms (queue, handle, send), connections and network bytes, records
// and bytes in per topic, bytes out to consumers per topic, each partition's
// offsets and size, consumer group lag per partition, fdatasync latency and
// the files per sync, under-replicated partitions and ISR shrinks and
// expansions in a cluster, and the process (memory, CPU, descriptors, and
// how often freed memory was given back).
//
// Thread-safety: call from any thread but a shard's (it posts a task to each
// shard and waits for it: shard state is read only on its own thread, so
// nothing on the data path takes a lock for metrics).
#include <chrono>
#include <string>

namespace runnel {

class Broker;

// `timeout`: how long to wait for each shard; a shard that does not answer
// in time is left out (runnel_scrape_shard_timeouts_total says so).
std::string render_metrics(Broker& broker, std::chrono::milliseconds timeout);

}  // namespace runnel
