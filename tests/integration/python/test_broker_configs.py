"""Dynamic broker configs (BROKER resources, as kafka-configs.sh --entity-type
brokers --entity-default / --entity-name N): DescribeConfigs with sources and
synonyms; IncrementalAlterConfigs and AlterConfigs on the cluster default and
on this broker; a change reaches existing topics without a restart, a topic's
own setting still wins, it survives a restart, and in a cluster a change made
through one broker is in force on the others."""
import json
import os
import struct
import subprocess
import time
import unittest

from kafka import errors as Errors
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

import kproto
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, admin, producer
from broker import Broker

BROKER = 4
TOPIC = 2
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
DYNAMIC_TOPIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT = 1, 2, 3, 4, 5
INVALID_REQUEST, INVALID_CONFIG = 42, 40


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.o:self.o + n].decode()
        self.o += n
        return s

    def array(self, item):
        return [item() for _ in range(self.take(">i"))]


def roundtrip(port, api_key, version, body):
    c = kproto.Conn(port)
    try:
        c.send(kproto.frame(kproto.header_v1(api_key, version, 7) + body))
        payload = c.recv_frame()
        return Reader(payload[4:])  # past the correlation id
    finally:
        c.close()


def incremental_alter(port, rtype, name, ops, validate_only=False):
    """IncrementalAlterConfigs v0 for one resource; ops: [(name, op, value)].
    Returns (error_code, error_message)."""
    configs = kproto.i32(len(ops)) + b"".join(
        kproto.string(k) + kproto.i8(op) + kproto.string(v) for k, op, v in ops)
    body = kproto.i32(1) + kproto.i8(rtype) + kproto.string(name) + configs + kproto.i8(1 if validate_only else 0)
    r = roundtrip(port, 44, 0, body)
    r.take(">i")  # throttle
    out = r.array(lambda: (r.take(">h"), r.string(), r.take(">b"), r.string()))
    return out[0][0], out[0][1]


def describe(port, rtype, name, keys=None):
    """DescribeConfigs v1 with synonyms for one resource: (error_code,
    {name: (value, source, read_only, [(synonym, value, source)])})."""
    k = kproto.i32(-1) if keys is None else kproto.i32(len(keys)) + b"".join(kproto.string(x) for x in keys)
    body = kproto.i32(1) + kproto.i8(rtype) + kproto.string(name) + k + kproto.i8(1)
    r = roundtrip(port, 32, 1, body)
    r.take(">i")

    def config():
        n, v, ro, src, _sens = r.string(), r.string(), r.take(">b"), r.take(">b"), r.take(">b")
        syn = r.array(lambda: (r.string(), r.string(), r.take(">b")))
        return n, (v, src, bool(ro), syn)

    def result():
        err, _msg, _t, _n = r.take(">h"), r.string(), r.take(">b"), r.string()
        return err, dict(r.array(config))

    return r.array(result)[0]


def produce_error(bootstrap, topic, size):
    p = producer(bootstrap, acks="all", max_request_size=10 * 1024 * 1024, retries=0)
    try:
        p.send(topic, value=b"x" * size, partition=0).get(10)
        return None
    except Errors.KafkaError as e:
        return type(e)
    finally:
        p.close(5)


class BrokerConfigTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "log.retention.ms": "1234000", "node.id": 0,
                   "log.cleaner.backoff.ms": "600000"}

    def setUp(self):
        self.port = self.broker.port
        self.admin = admin(self.bootstrap)

    def tearDown(self):
        # Back to nothing dynamic, for the next test.
        for name in ("", "0"):
            _, configs = describe(self.port, BROKER, name)
            ops = [(k, DELETE, None) for k, (_, src, _, _) in configs.items()
                   if src in (DYNAMIC_BROKER, DYNAMIC_DEFAULT)]
            if ops:
                self.assertEqual(incremental_alter(self.port, BROKER, name, ops)[0], 0)
        self.admin.close()

    def test_describe_sources_and_read_only(self):
        err, d = describe(self.port, BROKER, "0")
        self.assertEqual(err, 0)
        self.assertEqual(d["log.retention.ms"][:3], ("1234000", STATIC, False))
        self.assertEqual(d["log.retention.ms"][3], [("log.retention.ms", "1234000", STATIC),
                                                    ("log.retention.ms", "604800000", DEFAULT)])
        self.assertEqual(d["log.segment.bytes"][:3], ("1073741824", DEFAULT, False))
        self.assertEqual(d["num.partitions"][2], True)  # static only
        self.assertTrue(d["log.dirs"][2])
        # Nothing set at the cluster level yet.
        self.assertEqual(describe(self.port, BROKER, ""), (0, {}))
        # Another broker's id: Kafka's INVALID_REQUEST.
        self.assertEqual(describe(self.port, BROKER, "7")[0], INVALID_REQUEST)
        # kafka-python's describe (per broker, v2).
        resp = self.admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "0")])
        entries = {c[0]: c for c in resp[0].resources[0][4]}
        self.assertEqual(entries["log.retention.ms"][1], "1234000")

    def test_cluster_default_then_broker_then_topic(self):
        self.admin.create_topics([NewTopic("inherits", 1, 1), NewTopic("own", 1, 1, topic_configs={
            "max.message.bytes": "2000000", "retention.ms": "5000000"})])
        self.assertIsNone(produce_error(self.bootstrap, "inherits", 200000))
        # The cluster default: in force at once for the topic without its own.
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("message.max.bytes", SET, "100000"),
                                                                   ("log.retention.ms", SET, "3000000")])[0], 0)
        self.assertIs(produce_error(self.bootstrap, "inherits", 200000), Errors.MessageSizeTooLargeError)
        self.assertIsNone(produce_error(self.bootstrap, "own", 200000))  # its own setting wins
        _, t = describe(self.port, TOPIC, "inherits")
        self.assertEqual(t["retention.ms"][:2], ("3000000", DYNAMIC_DEFAULT))
        self.assertEqual(t["retention.ms"][3], [("log.retention.ms", "3000000", DYNAMIC_DEFAULT),
                                                ("log.retention.ms", "1234000", STATIC),
                                                ("log.retention.ms", "604800000", DEFAULT)])
        _, t = describe(self.port, TOPIC, "own")
        self.assertEqual(t["retention.ms"][:2], ("5000000", DYNAMIC_TOPIC))
        self.assertEqual(describe(self.port, BROKER, "")[1]["log.retention.ms"][:2], ("3000000", DYNAMIC_DEFAULT))
        # This broker's own value wins over the cluster default.
        self.assertEqual(incremental_alter(self.port, BROKER, "0", [("log.retention.ms", SET, "2000000")])[0], 0)
        _, b = describe(self.port, BROKER, "0")
        self.assertEqual(b["log.retention.ms"][:2], ("2000000", DYNAMIC_BROKER))
        self.assertEqual([s[2] for s in b["log.retention.ms"][3]], [DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT])
        self.assertEqual(describe(self.port, TOPIC, "inherits")[1]["retention.ms"][:2], ("2000000", DYNAMIC_BROKER))
        # Deleted: back to the cluster default, then to the static value.
        self.assertEqual(incremental_alter(self.port, BROKER, "0", [("log.retention.ms", DELETE, None)])[0], 0)
        self.assertEqual(describe(self.port, TOPIC, "inherits")[1]["retention.ms"][:2], ("3000000", DYNAMIC_DEFAULT))
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("message.max.bytes", DELETE, None)])[0], 0)
        self.assertIsNone(produce_error(self.bootstrap, "inherits", 200000))

    def test_errors_and_validate_only(self):
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("num.partitions", SET, "3")])[0], INVALID_REQUEST)
        err, msg = incremental_alter(self.port, BROKER, "0", [("log.dirs", SET, "/tmp/x")])
        self.assertEqual(err, INVALID_REQUEST)
        self.assertIn("Cannot update these configs dynamically", msg)
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("no.such.config", SET, "1")])[0], INVALID_CONFIG)
        # A bad value: INVALID_REQUEST, as Kafka 4's ConfigAdminManager answers (KAFKA-13609).
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.retention.ms", SET, "soon")])[0],
                         INVALID_REQUEST)
        self.assertEqual(incremental_alter(self.port, BROKER, "5", [("log.retention.ms", SET, "1")])[0],
                         INVALID_REQUEST)
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.retention.ms", SET, "1000")],
                                           validate_only=True)[0], 0)
        self.assertEqual(describe(self.port, BROKER, ""), (0, {}))
        # Legacy AlterConfigs (kafka-python): replaces the cluster default's set.
        resp = self.admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, "",
                                                        configs={"log.segment.bytes": "50000000"})])
        self.assertEqual(resp.resources[0][0], 0)
        self.assertEqual(describe(self.port, BROKER, "")[1]["log.segment.bytes"][:2], ("50000000", DYNAMIC_DEFAULT))
        resp = self.admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, "",
                                                        configs={"compression.type": "zstd"})])
        self.assertEqual(resp.resources[0][0], 0)
        self.assertEqual(list(describe(self.port, BROKER, "")[1]), ["compression.type"])
        self.assertBrokerAlive()

    def test_append_and_subtract_on_list_configs(self):
        # Kafka's controller: the list starts from the resource's own value,
        # or Kafka's default when it has none; only LIST configs take them.
        self.admin.create_topics([NewTopic("listy", 1, 1)])
        wait_for(lambda: "listy" in self.admin.list_topics(), 10)
        self.assertEqual(incremental_alter(self.port, TOPIC, "listy", [("cleanup.policy", APPEND, "compact")]), (0, None))
        self.assertEqual(describe(self.port, TOPIC, "listy")[1]["cleanup.policy"][:2], ("delete,compact", DYNAMIC_TOPIC))
        self.assertEqual(incremental_alter(self.port, TOPIC, "listy", [("cleanup.policy", SUBTRACT, "delete")])[0], 0)
        self.assertEqual(describe(self.port, TOPIC, "listy")[1]["cleanup.policy"][:2], ("compact", DYNAMIC_TOPIC))
        err, msg = incremental_alter(self.port, TOPIC, "listy", [("retention.ms", APPEND, "5")])
        self.assertEqual((err, msg), (INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."))
        self.assertNotEqual(describe(self.port, TOPIC, "listy")[1]["retention.ms"][1], DYNAMIC_TOPIC)  # unchanged
        # The broker resource: log.cleanup.policy is a LIST, log.retention.ms not.
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.cleanup.policy", APPEND, "compact")])[0], 0)
        self.assertEqual(describe(self.port, BROKER, "")[1]["log.cleanup.policy"][:2],
                         ("delete,compact", DYNAMIC_DEFAULT))
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.cleanup.policy", SUBTRACT, "compact")])[0], 0)
        self.assertEqual(describe(self.port, BROKER, "")[1]["log.cleanup.policy"][:2], ("delete", DYNAMIC_DEFAULT))
        err, msg = incremental_alter(self.port, BROKER, "0", [("log.retention.ms", SUBTRACT, "1")])
        self.assertEqual((err, msg), (INVALID_CONFIG,
                                      "Can't SUBTRACT to key log.retention.ms because its type is not LIST."))
        self.assertBrokerAlive()

    def test_log_cleaner_keys_change_at_run_time(self):
        # Kafka's dynamic log.cleaner.* keys. The broker started with a
        # 10-minute back-off, so the cleaner, idle since start-up, would not
        # look at the compacted topic for 10 minutes; a new back-off wakes it.
        err, d = describe(self.port, BROKER, "0")
        self.assertEqual(d["log.cleaner.threads"][:3], ("1", DEFAULT, False))
        self.assertEqual(d["log.cleaner.backoff.ms"][:2], ("600000", STATIC))
        self.admin.create_topics([NewTopic("cleaned-dyn", 1, 1, topic_configs={
            "cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01"})])
        self.assertTrue(wait_for(lambda: "cleaned-dyn" in self.admin.list_topics(), 10))
        p = producer(self.bootstrap, acks="all")
        for i in range(60):  # one batch per send: segments of 1 KiB roll
            p.send("cleaned-dyn", key=b"k%d" % (i % 5), value=b"v" * 100, partition=0)
            p.flush(10)
        p.close(5)
        time.sleep(1)
        self.assertNotIn("cleaned cleaned-dyn-0", self.broker.log())
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.cleaner.backoff.ms", SET, "200"),
                                                                   ("log.cleaner.threads", SET, "2")])[0], 0)
        self.assertTrue(wait_for(lambda: "cleaned cleaned-dyn-0" in self.broker.log(), 20), self.broker.log()[-3000:])
        self.assertIn("log cleaner reconfigured: 2 thread(s), backoff 200 ms", self.broker.log())
        _, d = describe(self.port, BROKER, "0")
        self.assertEqual(d["log.cleaner.backoff.ms"][:2], ("200", DYNAMIC_DEFAULT))
        self.assertEqual([s[2] for s in d["log.cleaner.backoff.ms"][3]], [DYNAMIC_DEFAULT, STATIC, DEFAULT])
        self.assertEqual(describe(self.port, BROKER, "")[1]["log.cleaner.threads"][:2], ("2", DYNAMIC_DEFAULT))
        # Kafka's rule and message; APPEND is for LIST keys only.
        self.assertEqual(incremental_alter(self.port, BROKER, "0", [("log.cleaner.threads", SET, "0")]),
                         (INVALID_REQUEST, "Log cleaner threads should be at least 1"))
        self.assertEqual(incremental_alter(self.port, BROKER, "0", [("log.cleaner.threads", APPEND, "1")])[0],
                         INVALID_CONFIG)
        # Back to one thread: the second ends after its round.
        self.assertEqual(incremental_alter(self.port, BROKER, "", [("log.cleaner.threads", DELETE, None)])[0], 0)
        self.assertTrue(wait_for(lambda: "log cleaner reconfigured: 1 thread(s)" in self.broker.log(), 10))
        self.assertBrokerAlive()

    def test_cli(self):
        def runnel(*args):
            r = subprocess.run([os.environ["RUNNEL_BIN"], "broker"] + list(args) + ["--bootstrap", self.bootstrap],
                               capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout, r.stderr

        rc, out, err = runnel("alter-config", "--default", "-s", "log.retention.bytes=123456789")
        self.assertEqual(rc, 0, err)
        rc, out, err = runnel("describe-config", "--default", "--format", "json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), [{"name": "log.retention.bytes", "value": "123456789",
                                            "source": "DYNAMIC_DEFAULT_BROKER_CONFIG", "read_only": False}])
        rc, out, err = runnel("describe-config", "--broker", "0")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"log.retention.bytes\s+123456789\s+DYNAMIC_DEFAULT_BROKER_CONFIG\s+false")
        rc, out, err = runnel("alter-config", "--broker", "0", "-s", "num.partitions=4")
        self.assertEqual(rc, 1)
        self.assertIn("INVALID_REQUEST", out + err)
        rc, out, err = runnel("alter-config", "--default", "-d", "log.retention.bytes")
        self.assertEqual(rc, 0, err)
        self.assertEqual(runnel("describe-config")[0], 2)  # neither --default nor --broker


class BrokerConfigRestartTest(unittest.TestCase):
    def test_survives_restart(self):
        b = Broker().start()
        try:
            a = admin(b.bootstrap)
            a.create_topics([NewTopic("kept", 1, 1)])
            a.close()
            self.assertEqual(incremental_alter(b.port, BROKER, "", [("message.max.bytes", SET, "100000")])[0], 0)
            self.assertEqual(incremental_alter(b.port, BROKER, "0", [("log.segment.bytes", SET, "70000000")])[0], 0)
            b.stop()
            b.restart()
            self.assertEqual(describe(b.port, BROKER, "")[1]["message.max.bytes"][:2], ("100000", DYNAMIC_DEFAULT))
            self.assertEqual(describe(b.port, TOPIC, "kept")[1]["segment.bytes"][:2], ("70000000", DYNAMIC_BROKER))
            self.assertIs(produce_error(b.bootstrap, "kept", 200000), Errors.MessageSizeTooLargeError)
        finally:
            b.cleanup()


class BrokerConfigClusterTest(unittest.TestCase):
    def test_cluster_default_reaches_every_broker(self):
        with Cluster(3) as c:
            a = admin(c.bootstrap)
            a.create_topics([NewTopic("spread", 3, 3)])
            a.close()
            port = {n: c.brokers[n].port for n in c.brokers}
            self.assertEqual(incremental_alter(port[1], BROKER, "", [("log.retention.ms", SET, "4242000")])[0], 0)

            def seen(n):
                # {} until broker n has the topic
                got = describe(port[n], TOPIC, "spread")[1].get("retention.ms")
                return got is not None and got[:2] == ("4242000", DYNAMIC_DEFAULT)

            self.assertTrue(wait_for(lambda: all(seen(n) for n in (1, 2, 3)), timeout=10))
            for n in (1, 2, 3):
                self.assertEqual(describe(port[n], BROKER, "")[1]["log.retention.ms"][:2], ("4242000", DYNAMIC_DEFAULT))
            # Per broker: only where it was set (each broker its own).
            self.assertEqual(incremental_alter(port[2], BROKER, "2", [("log.retention.ms", SET, "1111000")])[0], 0)
            self.assertEqual(incremental_alter(port[2], BROKER, "3", [("log.retention.ms", SET, "1")])[0],
                             INVALID_REQUEST)
            self.assertEqual(describe(port[2], TOPIC, "spread")[1]["retention.ms"][:2], ("1111000", DYNAMIC_BROKER))
            self.assertTrue(wait_for(lambda: seen(3) and seen(1), timeout=5))
            # A message.max.bytes cluster default set through broker 3 refuses
            # large records on whichever broker leads.
            self.assertEqual(incremental_alter(port[3], BROKER, "", [("message.max.bytes", SET, "100000")])[0], 0)
            self.assertTrue(wait_for(lambda: all(
                describe(port[n], TOPIC, "spread")[1]["max.message.bytes"][0] == "100000" for n in (1, 2, 3)), 10))
            self.assertIs(produce_error(c.bootstrap, "spread", 200000), Errors.MessageSizeTooLargeError)
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())


if __name__ == "__main__":
    unittest.main()
