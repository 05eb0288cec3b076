// runnel-bench rabbitmq: RabbitMQ as a peer, over AMQP 0-9-1 with librabbitmq-c (Debian's
// librabbitmq-dev). One durable queue (classic, or x-queue-type=stream), persistent messages
// (delivery-mode 2) published with publisher confirms and a window of unconfirmed publishes
// (as Kafka's producer keeps records in flight), then one consumer reading them all back with
// basic.qos and cumulative acks. With --rate it only publishes, at that fixed rate, and reports
// the publish->confirm latency. Single-threaded: the publisher reads confirms between writes.
// Built only when CMake finds librabbitmq (RUNNEL_BENCH_RABBITMQ); otherwise the mode says so.
#include "common.h"

#ifdef RUNNEL_BENCH_RABBITMQ
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <thread>
#endif

namespace runnel::bench {

#ifndef RUNNEL_BENCH_RABBITMQ
int mode_rabbitmq(const Options&) {
  fmt::print(stderr, "runnel-bench was built without librabbitmq (apt install librabbitmq-dev, re-run cmake)\n");
  return 3;
}
#else
namespace {

void rmq_check(amqp_rpc_reply_t r, const std::string& what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
    die("rabbitmq: " + what + ": " + amqp_error_string2(r.library_error));
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
    die(fmt::format("rabbitmq: {}: channel closed: {}", what,
                    std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len)));
  }
  if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
    die(fmt::format("rabbitmq: {}: connection closed: {}", what,
                    std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len)));
  }
  die("rabbitmq: " + what + ": failed");
}

// One connection, logged in as guest (RabbitMQ allows guest from loopback only), channel 1.
amqp_connection_state_t rmq_connect(const std::string& hostport) {
  auto colon = hostport.rfind(':');
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t* s = amqp_tcp_socket_new(c);
  if (!s) die("rabbitmq: cannot create a socket");
  int st = amqp_socket_open(s, hostport.substr(0, colon).c_str(), std::stoi(hostport.substr(colon + 1)));
  if (st != AMQP_STATUS_OK) die("rabbitmq: connect " + hostport + ": " + amqp_error_string2(st));
  rmq_check(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
  amqp_channel_open(c, 1);
  rmq_check(amqp_get_rpc_reply(c), "channel.open");
  return c;
}

void rmq_close(amqp_connection_state_t c) {
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

}  // namespace

int mode_rabbitmq(const Options& o) {
  const bool stream = o.queue_type == "stream";
  if (!stream && o.queue_type != "classic") die("rabbitmq: --queue-type is classic or stream");
  amqp_connection_state_t c = rmq_connect(o.bootstrap);
  amqp_bytes_t queue = amqp_cstring_bytes(o.topic.c_str());
  amqp_table_entry_t qarg{};
  qarg.key = amqp_cstring_bytes("x-queue-type");
  qarg.value.kind = AMQP_FIELD_KIND_UTF8;
  qarg.value.value.bytes = amqp_cstring_bytes(o.queue_type.c_str());
  amqp_table_t qargs{1, &qarg};
  amqp_queue_declare(c, 1, queue, /*passive=*/0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0, qargs);
  rmq_check(amqp_get_rpc_reply(c), "queue.declare");
  amqp_confirm_select(c, 1);
  rmq_check(amqp_get_rpc_reply(c), "confirm.select");

  // Publish: delivery tags count from 1 on a confirm channel; a confirm may cover every tag up
  // to its own (multiple). The latency of each publish is from its intended send time when a
  // --rate is set (a stalled publisher shows up), else from its actual send time.
  const bool paced = o.rate > 0;
  uint64_t total = o.records;
  std::vector<uint64_t> sent_at;
  if (total == UINT64_MAX && paced && o.duration > 0) total = uint64_t(o.rate * o.duration) + 1;
  if (total != UINT64_MAX) sent_at.resize(total + 1);
  Histogram lat;
  uint64_t next = 1, confirmed = 0, nacked = 0;  // next tag to publish; tags confirmed so far
  std::string payload = random_payload(o.record_size);
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2;  // persistent
  uint64_t start = now_ns();
  IntervalRate produce_rate(o, start);
  uint64_t deadline = o.duration > 0 ? start + uint64_t(o.duration * 1e9) : 0;
  uint64_t warm = paced ? start + uint64_t(o.warmup * 1e9) : 0;
  auto on_confirm = [&](uint64_t tag, bool multiple, bool ok) {
    uint64_t from = multiple ? confirmed + 1 : tag, t = now_ns();
    for (uint64_t k = from; k <= tag; ++k) {
      if (!ok) ++nacked;
      if (k < sent_at.size() && sent_at[k] >= warm) lat.record(t - sent_at[k]);
    }
    confirmed = std::max(confirmed, tag);
  };
  // Reads confirms: waits up to timeout_us for the first one (0: only what is there).
  auto read_confirms = [&](long timeout_us) {
    for (;;) {
      amqp_frame_t f;
      timeval tv{timeout_us / 1000000, timeout_us % 1000000};
      int st = amqp_simple_wait_frame_noblock(c, &f, &tv);
      if (st == AMQP_STATUS_TIMEOUT) return;
      if (st != AMQP_STATUS_OK) die(std::string("rabbitmq: reading confirms: ") + amqp_error_string2(st));
      if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
        auto* a = static_cast<amqp_basic_ack_t*>(f.payload.method.decoded);
        on_confirm(a->delivery_tag, a->multiple, true);
      } else if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
        auto* a = static_cast<amqp_basic_nack_t*>(f.payload.method.decoded);
        on_confirm(a->delivery_tag, a->multiple, false);
      } else if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(f.payload.method.decoded);
        die("rabbitmq: channel closed: " + std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len));
      }
      amqp_maybe_release_buffers(c);
      timeout_us = 0;
    }
  };
  while (next <= total && !g_stop) {
    uint64_t t = now_ns();
    if (deadline && t >= deadline) break;
    uint64_t due = paced ? start + uint64_t(double(next - 1) * 1e9 / o.rate) : t;
    if (next - 1 - confirmed < uint64_t(o.window) && due <= t) {
      if (next < sent_at.size()) sent_at[next] = due;
      amqp_bytes_t body{payload.size(), payload.data()};
      int st = amqp_basic_publish(c, 1, amqp_empty_bytes, queue, 0, 0, &props, body);
      if (st != AMQP_STATUS_OK) die(std::string("rabbitmq: publish: ") + amqp_error_string2(st));
      ++next;
      if (next % 64 == 0) read_confirms(0);
    } else {
      // Window full, or waiting for the next send time: wait for confirms meanwhile.
      long wait_us = paced && due > t ? long(std::min<uint64_t>((due - t) / 1000, 100000)) : 100000;
      read_confirms(std::max(1L, wait_us));
    }
    if (auto per_s = produce_rate.tick(t, confirmed))
      progress(o, "rabbitmq", double(t - start) / 1e9,
               fmt::format("published {} confirmed {}  {:.0f} rec/s {:.1f} MB/s", next - 1, confirmed, *per_s,
                           *per_s * double(o.record_size) / 1e6));
  }
  uint64_t published = next - 1;
  uint64_t wait_end = now_ns() + 60'000'000'000ull;
  while (confirmed < published && now_ns() < wait_end) read_confirms(100000);
  double secs = double(now_ns() - start) / 1e9;
  if (paced && warm > start) secs -= o.warmup;
  Result r;
  r.str("mode", o.mode);
  r.str("label", o.label);
  r.str("queue", o.topic);
  r.str("queue_type", o.queue_type);
  r.str("delivery_mode", "persistent (2), publisher confirms");
  r.num("record_size", double(o.record_size));
  r.num("window", o.window);
  if (paced) r.num("rate_offered", o.rate);
  r.num("records", double(confirmed - nacked));
  r.num("failed", double(nacked + (published - confirmed)));
  r.num("seconds", secs);
  r.num("records_per_s", double(paced ? lat.count() : confirmed) / secs);
  r.num("mb_per_s", double(paced ? lat.count() : confirmed) * double(o.record_size) / secs / 1e6);
  r.latency("ack_latency", lat);
  rmq_close(c);

  // Consume everything published, on a new connection: basic.qos prefetch, manual acks,
  // one cumulative ack per prefetch/2 deliveries. A stream queue starts at x-stream-offset.
  if (!paced && confirmed > 0 && !g_stop) {
    amqp_connection_state_t cc = rmq_connect(o.bootstrap);
    amqp_basic_qos(cc, 1, 0, uint16_t(std::min(o.prefetch, 65535)), 0);
    rmq_check(amqp_get_rpc_reply(cc), "basic.qos");
    amqp_table_entry_t carg{};
    carg.key = amqp_cstring_bytes("x-stream-offset");
    carg.value.kind = AMQP_FIELD_KIND_UTF8;
    carg.value.value.bytes = amqp_cstring_bytes("first");
    amqp_table_t cargs{stream ? 1 : 0, stream ? &carg : nullptr};
    amqp_basic_consume(cc, 1, queue, amqp_empty_bytes, 0, /*no_ack=*/0, 0, cargs);
    rmq_check(amqp_get_rpc_reply(cc), "basic.consume");
    uint64_t want = confirmed - nacked, got = 0, bytes = 0, unacked = 0, tag = 0;
    uint64_t c0 = now_ns(), idle_since = c0;
    IntervalRate consume_rate(o, c0);
    uint64_t ack_every = uint64_t(std::max(1, o.prefetch / 2));
    while (got < want && !g_stop) {
      amqp_envelope_t env;
      amqp_maybe_release_buffers(cc);
      timeval tv{0, 200000};
      amqp_rpc_reply_t rr = amqp_consume_message(cc, &env, &tv, 0);
      uint64_t t = now_ns();
      if (rr.reply_type == AMQP_RESPONSE_NORMAL) {
        ++got, bytes += env.message.body.len, tag = env.delivery_tag, idle_since = t;
        amqp_destroy_envelope(&env);
        if (++unacked >= ack_every) amqp_basic_ack(cc, 1, tag, 1), unacked = 0;
      } else if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rr.library_error == AMQP_STATUS_TIMEOUT) {
        if (t - idle_since > 10'000'000'000ull) break;  // nothing for 10 s: report what came
      } else {
        rmq_check(rr, "consume");
      }
      if (auto per_s = consume_rate.tick(t, got))
        progress(o, "rabbitmq consume", double(t - c0) / 1e9, fmt::format("{} / {}  {:.0f} rec/s", got, want, *per_s));
    }
    if (unacked) amqp_basic_ack(cc, 1, tag, 1);
    double csecs = double(now_ns() - c0) / 1e9;
    r.num("consume_prefetch", o.prefetch);
    report_consume(r, got, want, bytes, csecs);
    rmq_close(cc);
  }
  r.emit(o);
  return nacked || confirmed < published ? 1 : 0;
}
#endif

}  // namespace runnel::bench
