"""OffsetForLeaderEpoch (API key 23) at the wire level, v0 to v4 (flexible
from v4), against a single node whose every partition is led in epoch 0:
the end offset of epoch 0 is the log end offset (0 for an empty partition,
whose leader holds epoch 0 from the start, as in Kafka), an unknown (newer)
epoch is -1/-1, an unknown partition is UNKNOWN_TOPIC_OR_PARTITION, and a
current_leader_epoch other than 0 is refused as Kafka refuses it. Then kcat
(librdkafka, which validates positions with this API) still consumes."""
import subprocess
import unittest

import kproto
from helpers import BrokerTestCase, create_topic
from kproto import i16, i32

TOPIC = "epochs"
API_KEY = 23
UNKNOWN_TOPIC_OR_PARTITION = 3
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75


def uvarint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def request(version, corr, partitions, replica_id=-1):
    """partitions: [(topic, partition, current_leader_epoch, leader_epoch)]"""
    flexible = version >= 4
    body = i16(API_KEY) + i16(version) + i32(corr) + kproto.string("runnel-it")
    if flexible:
        body += uvarint(0)  # request header v2 tagged fields
    if version >= 3:
        body += i32(replica_id)
    topics = {}
    for t, p, cur, epoch in partitions:
        topics.setdefault(t, []).append((p, cur, epoch))
    body += uvarint(len(topics) + 1) if flexible else i32(len(topics))
    for t, parts in topics.items():
        body += compact_string(t) if flexible else kproto.string(t)
        body += uvarint(len(parts) + 1) if flexible else i32(len(parts))
        for p, cur, epoch in parts:
            body += i32(p)
            if version >= 2:
                body += i32(cur)
            body += i32(epoch)
            if flexible:
                body += uvarint(0)
        if flexible:
            body += uvarint(0)
    if flexible:
        body += uvarint(0)
    return kproto.frame(body)


class FlexReader(kproto.Reader):
    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def parse(version, payload):
    """-> (corr, {(topic, partition): (error, leader_epoch, end_offset)})"""
    flexible = version >= 4
    r = FlexReader(payload)
    corr = r.i32()
    if flexible:
        r.tags()  # response header v1
    if version >= 2:
        r.i32()  # throttle_time_ms
    out = {}
    for _ in range((r.uvarint() - 1) if flexible else r.i32()):
        t = r.compact_string() if flexible else r.string()
        for _ in range((r.uvarint() - 1) if flexible else r.i32()):
            err, p = r.i16(), r.i32()
            epoch = r.i32() if version >= 1 else None
            end = r.i64()
            if flexible:
                r.tags()
            out[(t, p)] = (err, epoch, end)
        if flexible:
            r.tags()
    if flexible:
        r.tags()
    assert r.o == len(r.b), "trailing bytes in response"
    return corr, out


class LeaderEpochTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC, partitions=2)
        c = kproto.Conn(cls.broker.port)
        try:
            for n in (3, 4):  # partition 0: offsets 0..6 in two batches
                c.send(kproto.produce_v3(1, TOPIC, 0, kproto.record_batch([(None, b"v%d" % i) for i in range(n)])))
                _, parts = kproto.parse_produce_v3(c.recv_frame())
                assert parts[0][2] == 0, parts
        finally:
            c.close()

    def setUp(self):
        self.c = kproto.Conn(self.broker.port, timeout=10)

    def tearDown(self):
        self.c.close()
        self.assertBrokerAlive()

    def ask(self, version, partitions, corr=9):
        self.c.send(request(version, corr, partitions))
        got_corr, out = parse(version, self.c.recv_frame())
        self.assertEqual(got_corr, corr)
        return out

    def test_end_offsets_every_version(self):
        for v in range(0, 5):
            with self.subTest(version=v):
                out = self.ask(v, [(TOPIC, 0, -1, 0), (TOPIC, 1, -1, 0), (TOPIC, 2, -1, 0), ("no-such-topic", 0, -1, 0)])
                epoch = (lambda e: e) if v >= 1 else (lambda e: None)  # leader_epoch is in v1+ answers
                # epoch 0 is the latest: it ends at the log end offset
                self.assertEqual(out[(TOPIC, 0)], (0, epoch(0), 7))
                # an empty partition: its leader's epoch starts (and ends) at 0, as
                # a Kafka leader assigns its epoch when it takes the partition
                self.assertEqual(out[(TOPIC, 1)], (0, epoch(0), 0))
                self.assertEqual(out[(TOPIC, 2)][0], UNKNOWN_TOPIC_OR_PARTITION)
                self.assertEqual(out[("no-such-topic", 0)][0], UNKNOWN_TOPIC_OR_PARTITION)

    def test_unknown_newer_epoch_is_undefined(self):
        for v in range(0, 5):
            with self.subTest(version=v):
                out = self.ask(v, [(TOPIC, 0, -1, 5)])
                self.assertEqual(out[(TOPIC, 0)], (0, -1 if v >= 1 else None, -1))

    def test_current_leader_epoch_is_checked_from_v2(self):
        for v in range(2, 5):
            with self.subTest(version=v):
                out = self.ask(v, [(TOPIC, 0, 1, 0)])
                self.assertEqual(out[(TOPIC, 0)][0], UNKNOWN_LEADER_EPOCH)
                # -1 means "no check"; any other epoch below ours is fenced
                out = self.ask(v, [(TOPIC, 0, -2, 0)])
                self.assertEqual(out[(TOPIC, 0)][0], FENCED_LEADER_EPOCH)
                out = self.ask(v, [(TOPIC, 0, -1, 0)])
                self.assertEqual(out[(TOPIC, 0)], (0, 0, 7))
                out = self.ask(v, [(TOPIC, 0, 0, 0)])
                self.assertEqual(out[(TOPIC, 0)], (0, 0, 7))

    def test_kcat_consumes(self):
        out = subprocess.run(["kcat", "-C", "-q", "-e", "-b", self.bootstrap, "-t", TOPIC, "-p", "0", "-o",
                              "beginning", "-f", "%o:%s\\n", "-X", "fetch.wait.max.ms=100"],
                             capture_output=True, timeout=30, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.split()
        self.assertEqual([l.split(":")[0] for l in lines], [str(i) for i in range(7)])


if __name__ == "__main__":
    unittest.main()
