// runnel-bench: throughput and latency of a Kafka-protocol broker, driven with librdkafka's
// C API, in the spirit of kafka-producer-perf-test and rdkafka_performance. Also drives the
// peers the suite compares against (NATS JetStream over its own wire protocol, RabbitMQ over
// AMQP 0-9-1 with librabbitmq, ActiveMQ over STOMP 1.2) and times a
// broker's start-up. `runnel-bench --help` lists modes and options.
#include <signal.h>

#include "common.h"

namespace {
void on_signal(int) { runnel::bench::g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace runnel::bench;
  Options o = parse(argc, argv);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  if (o.mode == "produce") return mode_produce(o);
  if (o.mode == "consume") return mode_consume(o);
  if (o.mode == "latency") return mode_latency(o);
  if (o.mode == "nats") return mode_nats(o);
  if (o.mode == "startup") return mode_startup(o);
  if (o.mode == "rabbitmq") return mode_rabbitmq(o);
  if (o.mode == "activemq") return mode_activemq(o);
  if (o.mode == "mixed") return mode_mixed(o);
  if (o.mode == "connections") return mode_connections(o);
  if (o.mode == "metadata") return mode_metadata(o);
  if (o.mode == "blast") return mode_blast(o);
  if (o.mode == "fetch-blast") return mode_fetch_blast(o);
  if (o.mode == "txn-blast") return mode_txn_blast(o);
  if (o.mode == "sink") return mode_sink(o);
  fmt::print(stderr, "unknown mode {}\n", o.mode);
  usage(2);
}
