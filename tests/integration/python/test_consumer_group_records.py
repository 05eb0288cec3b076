"""A KIP-848 consumer group's state in __consumer_offsets is written as Kafka 4
writes it, so that tools which read that topic understand it: record types 3
(group epoch), 5 (member metadata), 6 (assignment epoch), 7 (a member's
target) and 8 (its current assignment), read back here from the topic itself.
A group that runnel stored before, in its own record (key version 1000), still
loads, and its first change replaces that record by Kafka's. Clients may not
write to the internal topics, except with the admin tools' client id, as in
Kafka (INVALID_TOPIC_EXCEPTION)."""
import struct
import time
import unittest

from kafka import KafkaConsumer, TopicPartition

import kproto
from helpers import BrokerTestCase, create_topic
from test_consumer_group_raw import Raw, topic_id

INVALID_TOPIC_EXCEPTION = 17
OFFSETS = "__consumer_offsets"
LEGACY_KEY_VERSION = 1000


def read_string(b, o):
    n = struct.unpack_from(">h", b, o)[0]
    return b[o + 2:o + 2 + n].decode(), o + 2 + n


def decode_key(key):
    """-> (type, group, member or None); offset commits (0, 1) by their group."""
    kind = struct.unpack_from(">h", key, 0)[0]
    group, o = read_string(key, 2)
    member = read_string(key, o)[0] if kind in (5, 7, 8) else None
    return kind, group, member


def string(s):
    return kproto.string(s)


def legacy_value(epoch, member_id, tid, partitions):
    """runnel's v1000 group value, version 0: one member owning `partitions`."""
    assignment = kproto.i32(1) + tid + kproto.i32(len(partitions)) + b"".join(kproto.i32(p) for p in partitions)
    member = (string(member_id) + string(None) + string(None) + string("legacy-client") + string("/127.0.0.1") +
              kproto.i32(30000) + kproto.i32(1) + string("cgr-legacy") + string(None) + string("uniform") +
              kproto.i32(epoch) + kproto.i32(epoch - 1) + kproto.i8(0) + assignment + kproto.i32(0) + assignment)
    return kproto.i16(0) + kproto.i32(epoch) + kproto.i32(epoch) + kproto.i32(1) + member


class ConsumerGroupRecordsTest(Raw, BrokerTestCase):
    broker_sets = {"offsets.topic.num.partitions": 1, "group.initial.rebalance.delay.ms": 0}

    def offsets_records(self):
        """Every (key, value) of __consumer_offsets-0, in log order."""
        c = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                          consumer_timeout_ms=1500)
        try:
            tp = TopicPartition(OFFSETS, 0)
            c.assign([tp])
            end = c.end_offsets([tp])[tp]
            out = []
            deadline = time.time() + 15
            while time.time() < deadline and c.position(tp) < end:
                for msgs in c.poll(500).values():
                    out.extend((m.key, m.value) for m in msgs)
            return out
        finally:
            c.close()

    def latest(self, group):
        """The live records of `group`'s consumer-group state: {(type, member): value or None}."""
        live = {}
        for key, value in self.offsets_records():
            kind, g, member = decode_key(key)
            if g == group and kind >= 3:
                live[(kind, member)] = value
        return live

    def test_the_group_is_kept_in_kafkas_record_types(self):
        create_topic(self.bootstrap, "cgr", 3)
        tid = topic_id(self.broker.port, "cgr")
        a = self.join("g-records", "a", ["cgr"])
        b = self.join("g-records", "b", ["cgr"])
        a = self.hb("g-records", "a", a["epoch"], owned={tid: a["assignment"][tid]})
        b = self.hb("g-records", "b", b["epoch"], owned={})
        described = self.describe("g-records")
        live = self.latest("g-records")
        kinds = {kind for kind, _ in live}
        self.assertEqual(kinds, {3, 5, 6, 7, 8}, live.keys())
        self.assertEqual({m for kind, m in live if kind == 5}, {"a", "b"})
        # Type 3's value (version 0, flexible): the group epoch.
        version, epoch = struct.unpack_from(">hi", live[(3, None)], 0)
        self.assertEqual((version, epoch), (0, described["epoch"]))
        # Type 8's value: member epoch, previous epoch, state, assigned partitions.
        for m in described["members"]:
            version, member_epoch = struct.unpack_from(">hi", live[(8, m["member_id"])], 0)
            self.assertEqual((version, member_epoch), (0, m["epoch"]))
        # A member that leaves: its three records are tombstoned.
        self.hb("g-records", "b", -1)
        live = self.latest("g-records")
        for kind in (5, 7, 8):
            self.assertIsNone(live[(kind, "b")])
            self.assertIsNotNone(live[(kind, "a")])

    def test_clients_cannot_write_internal_topics(self):
        self.join("g-internal", "x", ["cgr-internal"])  # creates __consumer_offsets
        batch = kproto.record_batch([(b"\x00\x03\x00\x01g", b"\x00\x00\x00\x00\x00\x01\x00")])
        _, (r,) = kproto.parse_produce_v8(kproto.round_trip(self.broker.port, kproto.produce(3, OFFSETS, 0, batch)))
        self.assertEqual(r["error"], INVALID_TOPIC_EXCEPTION)
        self.assertEqual(r["error_message"], "Cannot append to internal topic __consumer_offsets")

    def test_a_group_stored_by_an_older_runnel_loads_and_is_rewritten(self):
        create_topic(self.bootstrap, "cgr-legacy", 3)
        tid = topic_id(self.broker.port, "cgr-legacy")
        self.join("g-other", "x", ["cgr-legacy"])  # creates __consumer_offsets
        self.hb("g-other", "x", -1)
        # What runnel wrote before it wrote Kafka's records, put in place the
        # way Kafka's admin tools may write an internal topic.
        key = kproto.i16(LEGACY_KEY_VERSION) + string("g-legacy")
        batch = kproto.record_batch([(key, legacy_value(3, "m1", tid, [0, 1, 2]))])
        _, (r,) = kproto.parse_produce_v8(kproto.round_trip(
            self.broker.port, kproto.produce(4, OFFSETS, 0, batch, client_id="__admin_client")))
        self.assertEqual(r["error"], 0)
        self.broker.stop()
        self.broker.restart()
        g = self.describe("g-legacy")
        self.assertEqual((g["epoch"], [m["member_id"] for m in g["members"]]), (3, ["m1"]))
        self.assertEqual(g["members"][0]["assignment"], {"cgr-legacy": [0, 1, 2]})
        # A second member joins: the group's first change since the load.
        m2 = self.join("g-legacy", "m2", ["cgr-legacy"])
        self.assertEqual(m2["error"], 0)
        self.hb("g-legacy", "m1", 3, owned={tid: [0, 1, 2]})
        live_keys = [(decode_key(k), v) for k, v in self.offsets_records() if decode_key(k)[1] == "g-legacy"]
        legacy = [v for (kind, _, _), v in live_keys if kind == LEGACY_KEY_VERSION]
        self.assertEqual(len(legacy), 2)
        self.assertIsNone(legacy[-1])  # tombstoned
        self.assertEqual({m for (kind, _, m), v in live_keys if kind == 5 and v is not None}, {"m1", "m2"})
        before = self.describe("g-legacy")
        self.broker.stop()
        self.broker.restart()
        after = self.describe("g-legacy")
        self.assertEqual((after["epoch"], sorted(m["member_id"] for m in after["members"])),
                         (before["epoch"], ["m1", "m2"]))


if __name__ == "__main__":
    unittest.main()
