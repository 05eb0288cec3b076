"""Client quotas (KIP-13, KIP-55, KIP-546, KIP-612's per-IP rate), as Kafka:
AlterClientQuotas and DescribeClientQuotas (what kafka-configs.sh --entity-type
users|clients|ips sends; no Python client has them, so raw requests), with
Kafka's checks and filters; the quotas survive a restart; producer_byte_rate
and consumer_byte_rate answer a client over its quota with a throttle time,
mute its connection for that long, and leave other clients alone (raw
requests, and librdkafka's throttle_cb); connection_creation_rate on an ip
entity closes the connections from that address over the rate after the
throttle time."""
import json
import socket
import struct
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kproto
from broker import Broker, free_port, metric
from cluster import Cluster, wait_for
from kproto import carray, cstring, header_v2, NO_TAGS, i8, i16, i32, i64, Reader

INVALID_REQUEST, UNSUPPORTED_VERSION = 42, 35
EXACT, DEFAULT, ANY = 0, 1, 2


def request(port, api_key, body, client_id="quota-admin", version=1, source="127.0.0.1", timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(kproto.frame(header_v2(api_key, version, 5, client_id) + body))
        n = struct.unpack(">i", kproto.recv_exact(s, 4))[0]
        corr, r = kproto.flexible_response(kproto.recv_exact(s, n))
        assert corr == 5
        return r
    finally:
        s.close()


def entity_bytes(entity):
    return carray([cstring(t) + cstring(n) + NO_TAGS for t, n in entity])


def alter(port, entries, validate_only=False):
    """entries: [(entity [(type, name|None)], ops [(key, value|None to remove)])]
    -> [(error_code, message, entity)] in order."""
    body = carray([
        entity_bytes(entity) +
        carray([cstring(k) + struct.pack(">d", 0.0 if v is None else float(v)) + i8(1 if v is None else 0) + NO_TAGS
                for k, v in ops]) + NO_TAGS
        for entity, ops in entries]) + i8(1 if validate_only else 0) + NO_TAGS
    r = request(port, 49, body)
    r.i32()  # throttle
    out = []
    for _ in range(r.carray_len()):
        err = r.i16()
        msg = r.cstring()
        entity = []
        for _ in range(r.carray_len()):
            entity.append((r.cstring(), r.cstring()))
            r.tags()
        r.tags()
        out.append((err, msg, entity))
    return out


def describe(port, components, strict=False):
    """components: [(type, match_type, match)] -> (error, message, {frozenset(entity): {key: value}})."""
    body = carray([cstring(t) + i8(m) + cstring(n) + NO_TAGS for t, m, n in components]) + i8(
        1 if strict else 0) + NO_TAGS
    r = request(port, 48, body)
    r.i32()
    err = r.i16()
    msg = r.cstring()
    n = r.carray_len(nullable=True)
    if n < 0:
        return err, msg, None
    found = {}
    for _ in range(n):
        entity = []
        for _ in range(r.carray_len()):
            entity.append((r.cstring(), r.cstring()))
            r.tags()
        values = {}
        for _ in range(r.carray_len()):
            k = r.cstring()
            values[k] = struct.unpack(">d", r.take(8))[0]
            r.tags()
        r.tags()
        found[frozenset(entity)] = values
    return err, msg, found


def produce_v8_frame(correlation_id, topic, payload, client_id):
    batch = kproto.record_batch([(None, payload)])
    return kproto.produce(correlation_id, topic, 0, batch, version=8, acks=1, client_id=client_id)


def produce_throttle(sock):
    """The throttle_time_ms of the Produce v8 response read from sock."""
    n = struct.unpack(">i", kproto.recv_exact(sock, 4))[0]
    payload = kproto.recv_exact(sock, n)
    return struct.unpack_from(">i", payload, len(payload) - 4)[0]


def fetch_v4(port, topic, offset, client_id, max_bytes=1 << 20):
    """Fetch v4 of partition 0 -> (throttle_ms, topics in the answer, record bytes)."""
    body = kproto.header_v1(1, 4, 3, client_id) + i32(-1) + i32(0) + i32(0) + i32(max_bytes) + i8(0)
    body += i32(1) + kproto.string(topic) + i32(1) + i32(0) + i64(offset) + i32(max_bytes)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(kproto.frame(body))
        n = struct.unpack(">i", kproto.recv_exact(s, 4))[0]
        r = Reader(kproto.recv_exact(s, n))
    finally:
        s.close()
    r.i32()  # correlation id
    throttle = r.i32()
    topics = r.i32()
    size = 0
    for _ in range(topics):
        r.string()
        for _ in range(r.i32()):
            r.i32(), r.i16(), r.i64(), r.i64()
            aborted = r.i32()
            for _ in range(max(aborted, 0)):
                r.i64(), r.i64()
            n = r.i32()
            size += max(n, 0)
            r.take(max(n, 0))
    return throttle, topics, size


class ClientQuotasTest(unittest.TestCase):
    def setUp(self):
        self.admin_port = free_port()
        self.broker = Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}).start()
        self.port = self.broker.port

    def tearDown(self):
        self.broker.cleanup()

    def test_alter_and_describe_as_kafka(self):
        p = self.port
        results = alter(p, [
            ([("user", "alice")], [("producer_byte_rate", 1024), ("consumer_byte_rate", 2048)]),
            ([("user", "alice"), ("client-id", None)], [("producer_byte_rate", 512)]),
            ([("client-id", "app")], [("consumer_byte_rate", 4096)]),
            ([("client-id", None)], [("producer_byte_rate", 100000)]),
            ([("ip", "127.0.0.1")], [("connection_creation_rate", 50)]),
            ([("ip", None)], [("connection_creation_rate", 100)]),
        ])
        self.assertEqual([e for e, _, _ in results], [0] * 6, results)
        self.assertEqual(results[1][2], [("user", "alice"), ("client-id", None)])

        err, _, all_ = describe(p, [])
        self.assertEqual(err, 0)
        self.assertEqual(len(all_), 6)
        self.assertEqual(all_[frozenset([("user", "alice")])], {"producer_byte_rate": 1024.0,
                                                               "consumer_byte_rate": 2048.0})
        # Exact: the entities that name alice (strict: only alice alone).
        _, _, found = describe(p, [("user", EXACT, "alice")])
        self.assertEqual(set(found), {frozenset([("user", "alice")]),
                                      frozenset([("user", "alice"), ("client-id", None)])})
        _, _, found = describe(p, [("user", EXACT, "alice")], strict=True)
        self.assertEqual(set(found), {frozenset([("user", "alice")])})
        # The default client-id, and any client-id.
        _, _, found = describe(p, [("client-id", DEFAULT, None)], strict=True)
        self.assertEqual(found, {frozenset([("client-id", None)]): {"producer_byte_rate": 100000.0}})
        _, _, found = describe(p, [("client-id", ANY, None)])
        self.assertEqual(len(found), 3)
        _, _, found = describe(p, [("ip", ANY, None)])
        self.assertEqual(found[frozenset([("ip", "127.0.0.1")])], {"connection_creation_rate": 50.0})
        self.assertEqual(found[frozenset([("ip", None)])], {"connection_creation_rate": 100.0})

        # Kafka's filter errors.
        self.assertEqual(describe(p, [("ip", ANY, None), ("user", ANY, None)])[0], INVALID_REQUEST)
        self.assertEqual(describe(p, [("user", ANY, None), ("user", DEFAULT, None)])[0], INVALID_REQUEST)
        err, msg, found = describe(p, [("group", ANY, None)])
        self.assertEqual((err, found), (UNSUPPORTED_VERSION, None))
        self.assertIn("group", msg)

        # Removing a key; an entity left with none is gone.
        self.assertEqual(alter(p, [([("client-id", "app")], [("consumer_byte_rate", None)])])[0][0], 0)
        _, _, found = describe(p, [("client-id", EXACT, "app")])
        self.assertEqual(found, {})

        # The quotas are stored: they survive a restart.
        self.broker.stop()
        self.broker.restart()
        _, _, again = describe(p, [])
        self.assertEqual(len(again), 5)
        self.assertEqual(again[frozenset([("user", "alice")])]["consumer_byte_rate"], 2048.0)

    def test_alterations_checked_as_kafka(self):
        p = self.port
        cases = [
            ([("user", "bob")], [("producer_byte_rate", 0)], "must be greater than 0"),
            ([("user", "bob")], [("producer_byte_rate", 10.5)], "cannot be a fractional value"),
            ([("user", "bob")], [("no_such_quota", 10)], "Invalid configuration key no_such_quota"),
            ([("user", "bob")], [("connection_creation_rate", 10)], "Invalid configuration key"),
            ([("ip", "127.0.0.1")], [("producer_byte_rate", 10)], "Invalid configuration key"),
            ([("ip", "127.0.0.1"), ("user", "bob")], [("connection_creation_rate", 10)], "IP entity"),
            ([("ip", "not a host name.invalid")], [("connection_creation_rate", 10)], "not a valid IP"),
            ([("group", "g")], [("producer_byte_rate", 10)], "Unhandled client quota entity type: group"),
            ([], [("producer_byte_rate", 10)], "Invalid empty client quota entity"),
            ([("user", "bob")], [("producer_byte_rate", 10), ("producer_byte_rate", 20)], "Duplicate quota key"),
            ([("user", "bob")], [("request_percentage", 10)], "does not enforce request_percentage"),
        ]
        results = alter(p, [(e, o) for e, o, _ in cases] + [([("user", "carol")], [("producer_byte_rate", 5000),
                                                                                   ("controller_mutation_rate", 2.5)])])
        for (entity, ops, wanted), (err, msg, _) in zip(cases, results):
            self.assertEqual(err, INVALID_REQUEST, (entity, ops, msg))
            self.assertIn(wanted, msg)
        # The valid entry of the same request is applied.
        self.assertEqual(results[-1][0], 0)
        # The same entity twice: the second is refused.
        twice = alter(p, [([("user", "dan")], [("producer_byte_rate", 1)]),
                          ([("user", "dan")], [("consumer_byte_rate", 1)])])
        self.assertEqual(twice[0][0], 0)
        self.assertEqual(twice[1][0], INVALID_REQUEST)
        self.assertIn("duplicate entity", twice[1][1])
        # validate_only stores nothing.
        self.assertEqual(alter(p, [([("user", "eve")], [("producer_byte_rate", 10)])], validate_only=True)[0][0], 0)
        _, _, found = describe(p, [("user", ANY, None)])
        self.assertEqual(set(found), {frozenset([("user", "carol")]), frozenset([("user", "dan")])})
        self.assertEqual(found[frozenset([("user", "dan")])], {"producer_byte_rate": 1.0})
        # controller_mutation_rate is a DOUBLE: a fraction is fine.
        self.assertEqual(found[frozenset([("user", "carol")])], {"producer_byte_rate": 5000.0,
                                                                "controller_mutation_rate": 2.5})

    def test_producer_byte_rate_throttles_and_mutes_that_client_only(self):
        p = self.port
        # 1,000 B/s: a 50 KB request is five times what the quota allows over
        # its ten-second span, so its answer carries a throttle of ~40 s.
        self.assertEqual(alter(p, [([("client-id", "slow")], [("producer_byte_rate", 1000)])])[0][0], 0)
        slow = socket.create_connection(("127.0.0.1", p), timeout=10)
        fast = socket.create_connection(("127.0.0.1", p), timeout=10)
        try:
            slow.sendall(produce_v8_frame(1, "quota-produce", b"x" * 50000, "slow"))
            throttle = produce_throttle(slow)
            self.assertGreater(throttle, 30000)
            self.assertLess(throttle, 50000)
            # The connection is muted: its next request waits.
            slow.sendall(produce_v8_frame(2, "quota-produce", b"y" * 10, "slow"))
            slow.settimeout(1.5)
            with self.assertRaises(socket.timeout):
                slow.recv(1)
            # Another client is not throttled, on its own connection.
            fast.sendall(produce_v8_frame(3, "quota-produce", b"z" * 50000, "fast"))
            self.assertEqual(produce_throttle(fast), 0)
            self.assertEqual(metric(self.admin_port, 'runnel_client_quota_throttled_total{quota="produce"}'), 1)
            self.assertGreater(metric(self.admin_port, 'runnel_client_quota_throttle_seconds_total{quota="produce"}'),
                               30)
            # The group's rate and quota, as Kafka's per user/client-id
            # byte-rate (a client-id quota: user "").
            group = '{quota="produce",user="",client_id="slow"}'
            self.assertEqual(metric(self.admin_port, "runnel_client_quota_limit" + group), 1000)
            self.assertGreater(metric(self.admin_port, "runnel_client_quota_byte_rate" + group), 4000)
            self.assertIsNone(metric(self.admin_port, 'runnel_client_quota_limit{quota="produce",user="",'
                                                      'client_id="fast"}'))
        finally:
            slow.close()
            fast.close()

    def test_librdkafka_producer_sees_the_throttle(self):
        p = self.port
        self.assertEqual(alter(p, [([("user", "ANONYMOUS"), ("client-id", "rdkafka-slow")],
                                    [("producer_byte_rate", 2000)])])[0][0], 0)
        throttles = []
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "client.id": "rdkafka-slow",
                             "linger.ms": 50, "throttle_cb": lambda event: throttles.append(event.throttle_time)})
        for i in range(100):
            producer.produce("quota-rdkafka", value=b"v" * 1000)
        self.assertEqual(producer.flush(30), 0)
        deadline = time.time() + 10
        while not throttles and time.time() < deadline:
            producer.poll(0.1)
        self.assertTrue(throttles, "no throttle reported")
        self.assertGreater(max(throttles), 0)

    def test_consumer_byte_rate_answers_a_throttled_fetch_with_nothing(self):
        p = self.port
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0})
        for i in range(40):
            producer.produce("quota-fetch", value=b"f" * 1000)
            producer.flush(10)  # one batch each
        # 1,000 B/s: a response may carry at most the quota's ten windows,
        # 10,000 bytes; the first is within the quota, the next is not.
        self.assertEqual(alter(p, [([("client-id", "slow-reader")], [("consumer_byte_rate", 1000)])])[0][0], 0)
        throttle, topics, size = fetch_v4(p, "quota-fetch", 0, "slow-reader")
        self.assertEqual(throttle, 0)
        self.assertEqual(topics, 1)
        self.assertGreater(size, 5000)
        self.assertLessEqual(size, 11000)  # capped by the quota, not the request's 1 MiB
        throttle, topics, size = fetch_v4(p, "quota-fetch", 10, "slow-reader")
        self.assertGreater(throttle, 0)
        self.assertEqual((topics, size), (0, 0))
        # Another client reads everything.
        throttle, topics, size = fetch_v4(p, "quota-fetch", 0, "other-reader")
        self.assertEqual((throttle, topics), (0, 1))
        self.assertGreater(size, 40000)

        # librdkafka's consumer reports the throttle too.
        throttles = []
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "quota-g",
                             "client.id": "slow-reader", "auto.offset.reset": "earliest",
                             "throttle_cb": lambda event: throttles.append(event.throttle_time)})
        try:
            consumer.assign([TopicPartition("quota-fetch", 0, 0)])
            deadline = time.time() + 15
            while not throttles and time.time() < deadline:
                consumer.poll(0.2)
            self.assertTrue(throttles, "no throttle reported")
        finally:
            consumer.close()

    def test_connection_creation_rate_per_ip(self):
        p = self.port
        # One connection per second from 127.0.0.3: ten seconds' worth at
        # once, then the next is held ~1 s and closed unanswered.
        self.assertEqual(alter(p, [([("ip", "127.0.0.3")], [("connection_creation_rate", 1)])])[0][0], 0)
        held = []
        try:
            for _ in range(10):
                s = socket.create_connection(("127.0.0.1", p), timeout=5, source_address=("127.0.0.3", 0))
                held.append(s)
            for s in held:
                s.sendall(kproto.api_versions_v0(7))
                n = struct.unpack(">i", kproto.recv_exact(s, 4))[0]
                kproto.recv_exact(s, n)
            over = socket.create_connection(("127.0.0.1", p), timeout=5, source_address=("127.0.0.3", 0))
            held.append(over)
            start = time.time()
            over.sendall(kproto.api_versions_v0(8))
            with self.assertRaises((ConnectionError, ConnectionResetError)):
                kproto.recv_exact(over, 4)
            self.assertGreater(time.time() - start, 0.5)  # held for the throttle time, not closed at once
            self.assertEqual(metric(self.admin_port, 'runnel_connections_ip_throttled_total{listener="PLAINTEXT"}'), 1)
            # Another address is not limited.
            other = socket.create_connection(("127.0.0.1", p), timeout=5, source_address=("127.0.0.4", 0))
            held.append(other)
            other.sendall(kproto.api_versions_v0(9))
            self.assertGreater(struct.unpack(">i", kproto.recv_exact(other, 4))[0], 0)
        finally:
            for s in held:
                s.close()


THROTTLING_QUOTA_EXCEEDED = 89


def create_topic_v7(port, name, partitions, client_id):
    """CreateTopics v7 (strict controller mutation quota) -> (throttle_ms, error, message)."""
    body = carray([cstring(name) + i32(partitions) + i16(1) + carray([]) + carray([]) + NO_TAGS]) + i32(
        10000) + i8(0) + NO_TAGS
    r = request(port, 19, body, client_id=client_id, version=7)
    throttle = r.i32()
    assert r.carray_len() == 1
    r.cstring(), r.uuid()
    return throttle, r.i16(), r.cstring()


def delete_topic_v6(port, name, client_id):
    """DeleteTopics v6 (strict) -> (throttle_ms, error)."""
    body = carray([cstring(name) + bytes(16) + NO_TAGS]) + i32(10000) + NO_TAGS
    r = request(port, 20, body, client_id=client_id, version=6)
    throttle = r.i32()
    assert r.carray_len() == 1
    r.cstring(), r.uuid()
    return throttle, r.i16()


class ControllerMutationRateTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def test_partitions_created_and_deleted_count_against_the_quota(self):
        p = self.broker.port
        # One partition per second: a bucket of eleven at first.
        self.assertEqual(alter(p, [([("client-id", "mut")], [("controller_mutation_rate", 1)])])[0][0], 0)
        self.assertEqual(create_topic_v7(p, "m1", 10, "mut"), (0, 0, None))
        # One token left: this one is taken, and leaves the bucket at -4.
        throttle, err, _ = create_topic_v7(p, "m2", 5, "mut")
        self.assertEqual(err, 0)
        self.assertGreater(throttle, 3000)
        self.assertLessEqual(throttle, 4000)
        # Strict (v6+): refused while the bucket is below zero.
        throttle, err, msg = create_topic_v7(p, "m3", 1, "mut")
        self.assertEqual(err, THROTTLING_QUOTA_EXCEEDED)
        self.assertEqual(msg, "The throttling quota has been exceeded.")
        self.assertGreater(throttle, 2000)
        throttle, err = delete_topic_v6(p, "m1", "mut")
        self.assertEqual(err, THROTTLING_QUOTA_EXCEEDED)
        # Another client is not limited.
        self.assertEqual(create_topic_v7(p, "m4", 20, "other"), (0, 0, None))
        self.assertEqual(delete_topic_v6(p, "m4", "other"), (0, 0))
        # librdkafka sends CreateTopics v4 (permissive): the topic is created
        # and the answer is throttled.
        throttles = []
        a = AdminClient({"bootstrap.servers": self.broker.bootstrap, "client.id": "mut",
                         "throttle_cb": lambda event: throttles.append(event.throttle_time)})
        for f in a.create_topics([NewTopic("m5", 2, 1)], operation_timeout=10).values():
            f.result(timeout=15)
        deadline = time.time() + 5
        while not throttles and time.time() < deadline:
            a.poll(0.1)
        self.assertTrue(throttles)
        md = a.list_topics(timeout=10)
        self.assertIn("m5", md.topics)
        self.assertNotIn("m3", md.topics)
        self.assertIn("m1", md.topics)


class QuotaWindowSettingsTest(unittest.TestCase):
    def test_kafka_defaults_are_taken_other_values_refused(self):
        b = Broker(sets={"quota.window.num": 11, "quota.window.size.seconds": 1}).start()
        b.cleanup()
        b = Broker(sets={"quota.window.num": 20})
        try:
            with self.assertRaises(RuntimeError) as e:
                b.start()
            self.assertIn("quota.window.num=20: runnel measures quotas over Kafka's default windows", str(e.exception))
        finally:
            b.cleanup()


class QuotaCommandTest(unittest.TestCase):
    """`runnel quota describe|alter`, the command-line kafka-configs.sh."""

    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def run_cli(self, *args):
        r = subprocess.run([self.broker.binary, "quota"] + list(args) + ["--bootstrap", self.broker.bootstrap],
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    def test_alter_then_describe(self):
        rc, out, _ = self.run_cli("alter", "--user", "alice", "--client-default", "-s", "producer_byte_rate=1048576",
                                  "-s", "controller_mutation_rate=2.5")
        self.assertEqual(rc, 0)
        self.assertIn("user=alice,client-id=<default>  OK", out)
        self.assertEqual(self.run_cli("alter", "--ip-default", "-s", "connection_creation_rate=10")[0], 0)
        rc, _, err = self.run_cli("alter", "--client", "app", "-s", "producer_byte_rate=0")
        self.assertEqual(rc, 1)
        self.assertIn("must be greater than 0", err + _)
        rc, out, _ = self.run_cli("describe", "--format", "json")
        self.assertEqual(rc, 0)
        doc = json.loads(out)
        self.assertIn({"entity": {"user": "alice", "client-id": None},
                       "values": {"producer_byte_rate": 1048576.0, "controller_mutation_rate": 2.5}}, doc)
        self.assertIn({"entity": {"ip": None}, "values": {"connection_creation_rate": 10.0}}, doc)
        # One entity, exactly (strict, as kafka-configs.sh --describe).
        rc, out, _ = self.run_cli("describe", "--ip-default")
        self.assertEqual(out.split("\n")[1].split(), ["ip=<default>", "connection_creation_rate", "10"])
        self.assertEqual(self.run_cli("describe", "--user", "alice", "--format", "json")[1].strip(), "[]")
        self.assertEqual(self.run_cli("alter", "--user", "alice", "--client-default", "-d", "producer_byte_rate",
                                      "-d", "controller_mutation_rate")[0], 0)
        _, out, _ = self.run_cli("describe", "--format", "json")
        self.assertEqual(json.loads(out), [{"entity": {"ip": None}, "values": {"connection_creation_rate": 10.0}}])


class ClusterClientQuotasTest(unittest.TestCase):
    def test_quota_set_on_one_broker_applies_on_the_other(self):
        with Cluster(2) as c:
            port = {n: c.brokers[n].port for n in c.brokers}
            self.assertEqual(alter(port[1], [([("client-id", "slow")], [("producer_byte_rate", 1000)])])[0][0], 0)

            def described_on_2():
                _, _, found = describe(port[2], [("client-id", EXACT, "slow")])
                return found == {frozenset([("client-id", "slow")]): {"producer_byte_rate": 1000.0}}

            # Broker 2 takes it from etcd's watch, and enforces it.
            self.assertTrue(wait_for(described_on_2, timeout=10))
            s = socket.create_connection(("127.0.0.1", port[2]), timeout=10)
            try:
                s.sendall(produce_v8_frame(1, "quota-cluster", b"x" * 50000, "slow"))
                self.assertGreater(produce_throttle(s), 30000)
            finally:
                s.close()
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())


if __name__ == "__main__":
    unittest.main()
