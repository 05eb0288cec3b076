"""Mixed consumer groups (KIP-848 online migration) on the wire: classic
members (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit) inside a
consumer group, the upgrade a ConsumerGroupHeartbeat member triggers, the
downgrade when the last consumer-protocol member leaves, persistence across
a restart, and the errors Kafka's GroupMetadataManager answers, with
group.consumer.migration.policy bidirectional (the default) and disabled."""
import os
import subprocess
import unittest

import kproto
from helpers import BrokerTestCase, create_topic
from test_consumer_group_raw import Raw, topic_id

ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
CLASSIC, CONSUMER = 0, 1


def subscription(topics):
    """ConsumerProtocolSubscription v0."""
    return kproto.i16(0) + kproto.i32(len(topics)) + b"".join(kproto.string(t) for t in topics) + kproto.i32(-1)


def assignment(parts_by_topic):
    """ConsumerProtocolAssignment v0."""
    body = kproto.i16(0) + kproto.i32(len(parts_by_topic))
    for t, parts in parts_by_topic.items():
        body += kproto.string(t) + kproto.i32(len(parts)) + b"".join(kproto.i32(p) for p in parts)
    return body + kproto.i32(-1)


def decode_assignment(b):
    if not b:
        return {}
    r = kproto.Reader(b)
    r.i16()
    out = {}
    for _ in range(r.i32()):
        t = r.string()
        out[t] = sorted(r.i32() for _ in range(r.i32()))
    return out


class Classic:
    """A classic-protocol member speaking JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v3."""

    def __init__(self, port, group, topics, protocol="range", instance_id=None):
        self.port, self.group, self.topics, self.protocol = port, group, topics, protocol
        self.instance_id = instance_id
        self.member_id, self.generation = "", -1

    def join(self):
        """-> (error, generation, protocol name, leader, member id, members)."""
        req = kproto.join_group_v5(1, self.group, member_id=self.member_id,
                                   protocols=((self.protocol, subscription(self.topics)),),
                                   instance_id=self.instance_id)
        r = kproto.Reader(kproto.round_trip(self.port, req))
        r.i32(), r.i32()
        error, generation, protocol, leader, member = r.i16(), r.i32(), r.string(), r.string(), r.string()
        members = [(r.string(), r.string(), r.take(r.i32())) for _ in range(r.i32())]
        if member:
            self.member_id = member
        if error == 0:
            self.generation = generation
        return error, generation, protocol, leader, member, members

    def join_fully(self):
        out = self.join()
        if out[0] == MEMBER_ID_REQUIRED:
            out = self.join()
        return out

    def sync(self, assignments=None, generation=None):
        """-> (error, {topic: [partitions]})."""
        body = kproto.header_v1(14, 3, 2) + kproto.string(self.group)
        body += kproto.i32(self.generation if generation is None else generation)
        body += kproto.string(self.member_id) + self.instance()
        assignments = assignments or {}
        body += kproto.i32(len(assignments))
        for member, parts in assignments.items():
            body += kproto.string(member) + kproto.nbytes(assignment(parts))
        r = kproto.Reader(kproto.round_trip(self.port, kproto.frame(body)))
        r.i32(), r.i32()
        error = r.i16()
        n = r.i32()
        return error, decode_assignment(r.take(n) if n > 0 else b"")

    def sync_v5(self, protocol_type="consumer", protocol_name="range"):
        """SyncGroup v5 (flexible; names the protocol) without assignments -> error."""
        body = kproto.header_v2(14, 5, 2) + kproto.cstring(self.group) + kproto.i32(self.generation)
        body += kproto.cstring(self.member_id) + kproto.cstring(None) + kproto.cstring(protocol_type)
        body += kproto.cstring(protocol_name) + kproto.carray([]) + kproto.NO_TAGS
        _, r = kproto.flexible_response(kproto.round_trip(self.port, kproto.frame(body)))
        r.i32()
        return r.i16()

    def heartbeat(self, generation=None):
        body = kproto.header_v1(12, 3, 3) + kproto.string(self.group)
        body += kproto.i32(self.generation if generation is None else generation)
        body += kproto.string(self.member_id) + self.instance()
        r = kproto.Reader(kproto.round_trip(self.port, kproto.frame(body)))
        r.i32(), r.i32()
        return r.i16()

    def instance(self):
        return kproto.i16(-1) if self.instance_id is None else kproto.string(self.instance_id)

    def leave(self):
        body = kproto.header_v1(13, 3, 4) + kproto.string(self.group)
        body += kproto.i32(1) + kproto.string(self.member_id) + kproto.i16(-1)
        r = kproto.Reader(kproto.round_trip(self.port, kproto.frame(body)))
        r.i32(), r.i32()
        error = r.i16()
        members = [(r.string(), r.string(), r.i16()) for _ in range(r.i32())]
        return error, members

    def commit(self, topic, partition, offset, generation=None):
        gen = self.generation if generation is None else generation
        return kproto.parse_offset_commit_flexible(kproto.round_trip(
            self.port, kproto.offset_commit_flexible(5, 8, self.group, topic, partition, offset, gen, self.member_id)))


class MixedRaw(Raw):
    topic = "mixed-raw"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, cls.topic, 3)
        cls.tid = topic_id(cls.broker.port, cls.topic)

    def tearDown(self):
        self.assertBrokerAlive()

    def classic_group(self, group):
        """A Stable classic group of one member that holds every partition."""
        k = Classic(self.broker.port, group, [self.topic])
        err, gen, _, leader, member, _ = k.join_fully()
        self.assertEqual((err, leader), (0, member))
        err, got = k.sync({member: {self.topic: [0, 1, 2]}})
        self.assertEqual((err, got), (0, {self.topic: [0, 1, 2]}))
        return k

    def describe_classic(self, group):
        return kproto.parse_describe_groups_v6(
            kproto.round_trip(self.broker.port, kproto.describe_groups_v6(1, [group])))[0]


class MixedGroupRawTest(MixedRaw, BrokerTestCase):
    broker_sets = {"num.partitions": 3, "group.initial.rebalance.delay.ms": 0}

    def test_upgrade_then_classic_apis_answer_from_the_consumer_group(self):
        k = self.classic_group("g-up")
        gen1 = k.generation
        # A heartbeat that is not a join cannot upgrade the group.
        r = self.hb("g-up", "m1", 3, owned={})
        self.assertEqual((r["error"], r["message"]), (GROUP_ID_NOT_FOUND, "Group g-up is not a consumer group"))
        # A joining consumer-protocol member upgrades it: the classic member
        # keeps its partitions at its generation until it rejoins.
        r = self.join("g-up", "m1", [self.topic])
        self.assertEqual(r["error"], 0, r)
        self.assertEqual(r["epoch"], gen1 + 1)
        g = self.describe("g-up")
        self.assertEqual((g["error"], g["epoch"]), (0, gen1 + 1))
        types = {m["member_id"]: m["type"] for m in g["members"]}
        self.assertEqual(types, {k.member_id: CLASSIC, "m1": CONSUMER})
        self.assertEqual(self.describe_classic("g-up")["error"], GROUP_ID_NOT_FOUND)
        if os.environ.get("RUNNEL_BIN"):
            out = subprocess.run([os.environ["RUNNEL_BIN"], "group", "describe", "g-up", "--bootstrap", self.bootstrap],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            header = out.stdout.splitlines()[0]
            self.assertIn("TYPE consumer", header)
            self.assertIn("MEMBERS 2", header)
            self.assertIn("CLASSIC-MEMBERS 1", header)

        self.assertEqual(k.heartbeat(generation=gen1 + 5), ILLEGAL_GENERATION)
        self.assertEqual(k.heartbeat(), REBALANCE_IN_PROGRESS)
        self.assertEqual(k.commit(self.topic, 0, 7), 0)  # its generation still holds
        self.assertEqual(k.commit(self.topic, 0, 7, generation=gen1 + 5), ILLEGAL_GENERATION)
        err, gen, protocol, leader, member, members = k.join()
        self.assertEqual((err, gen, protocol, leader, member, members), (0, gen1 + 1, "range", "", k.member_id, []))
        self.assertEqual(k.sync_v5(protocol_name="roundrobin"), INCONSISTENT_GROUP_PROTOCOL)
        self.assertEqual(k.sync_v5(protocol_type="connect"), INCONSISTENT_GROUP_PROTOCOL)
        err, got = k.sync()
        self.assertEqual(err, 0)
        self.assertIn(len(got.get(self.topic, [])), (1, 2))
        self.assertEqual(k.heartbeat(), 0)
        # m1 picks up the rest; the two hold all three partitions.
        r = self.hb("g-up", "m1", r["epoch"], owned={})
        mine = r["assignment"][self.tid] if r["assignment"] else []
        self.assertEqual(sorted(mine + got[self.topic]), [0, 1, 2])
        # Another classic member must speak a protocol the classic members share.
        other = Classic(self.broker.port, "g-up", [self.topic], protocol="roundrobin")
        self.assertEqual(other.join()[0], INCONSISTENT_GROUP_PROTOCOL)
        # LeaveGroup: a consumer-protocol member is not one of its members.
        m1 = Classic(self.broker.port, "g-up", [self.topic])
        m1.member_id = "m1"
        self.assertEqual(m1.leave()[1][0][2], UNKNOWN_MEMBER_ID)
        self.assertEqual(k.leave(), (0, [(k.member_id, None, 0)]))
        g = self.describe("g-up")
        self.assertEqual([(m["member_id"], m["type"]) for m in g["members"]], [("m1", CONSUMER)])
        # The offsets committed before the upgrade carried over.
        self.assertEqual(kproto.parse_offset_fetch_v9(kproto.round_trip(
            self.broker.port, kproto.offset_fetch_v9(1, "g-up", self.topic, 0))), (0, 0, 7))

    def test_downgrade_when_the_last_consumer_member_leaves(self):
        r = self.join("g-down", "m1", [self.topic])
        self.assertEqual(r["error"], 0)
        k = Classic(self.broker.port, "g-down", [self.topic])
        err, gen, _, leader, _, _ = k.join_fully()
        self.assertEqual((err, leader), (0, ""))
        self.assertEqual(k.sync()[0], 0)
        r = self.hb("g-down", "m1", -1)
        self.assertEqual(r["error"], 0, r)
        # A classic group now, rebalancing; the classic member rejoins it.
        d = self.describe_classic("g-down")
        self.assertEqual((d["error"], d["state"], d["protocol_type"], d["members"]),
                         (0, "PreparingRebalance", "consumer", 1))
        self.assertEqual(self.describe("g-down")["error"], GROUP_ID_NOT_FOUND)
        self.assertEqual(k.heartbeat(), REBALANCE_IN_PROGRESS)
        err, gen2, _, leader, member, members = k.join()
        self.assertEqual((err, leader, len(members)), (0, k.member_id, 1))
        self.assertGreater(gen2, gen)
        self.assertEqual(k.sync({k.member_id: {self.topic: [0, 1, 2]}}), (0, {self.topic: [0, 1, 2]}))
        self.assertEqual(self.describe_classic("g-down")["state"], "Stable")

    def test_downgrade_when_a_classic_static_member_replaces_the_last_consumer_member(self):
        # Kafka's rolling downgrade: an application moves from
        # group.protocol=consumer back to classic and restarts with the same
        # group.instance.id; the group becomes classic at once, without a
        # rebalance, and the new member gets the replaced member's partitions.
        r = self.join("g-static-down", "m1", [self.topic], instance_id="i1")
        self.assertEqual((r["error"], r["assignment"]), (0, {self.tid: [0, 1, 2]}))
        epoch = r["epoch"]
        self.assertEqual(self.hb("g-static-down", "m1", -2, instance_id="i1")["error"], 0)
        k = Classic(self.broker.port, "g-static-down", [self.topic], instance_id="i1")
        err, gen, protocol, _, member, _ = k.join()
        self.assertEqual((err, gen, protocol), (0, epoch, "range"))
        self.assertNotEqual(member, "m1")
        self.assertEqual(self.describe("g-static-down")["error"], GROUP_ID_NOT_FOUND)
        d = self.describe_classic("g-static-down")
        self.assertEqual((d["error"], d["state"], d["protocol_type"], d["members"]), (0, "Stable", "consumer", 1))
        self.assertEqual(k.sync(), (0, {self.topic: [0, 1, 2]}))
        self.assertEqual(k.heartbeat(), 0)
        # It stays classic across a restart.
        self.broker.stop()
        self.broker.restart()
        self.assertEqual(self.describe_classic("g-static-down")["state"], "Stable")
        self.assertEqual(self.describe("g-static-down")["error"], GROUP_ID_NOT_FOUND)

    def test_a_static_replacement_with_consumer_members_left_stays_mixed(self):
        self.assertEqual(self.join("g-static-mixed", "m1", [self.topic], instance_id="i1")["error"], 0)
        self.assertEqual(self.join("g-static-mixed", "m2", [self.topic])["error"], 0)
        self.assertEqual(self.hb("g-static-mixed", "m1", -2, instance_id="i1")["error"], 0)
        k = Classic(self.broker.port, "g-static-mixed", [self.topic], instance_id="i1")
        self.assertEqual(k.join()[0], 0)
        g = self.describe("g-static-mixed")
        self.assertEqual(sorted((m["member_id"], m["type"]) for m in g["members"]),
                         sorted([(k.member_id, CLASSIC), ("m2", CONSUMER)]))

    def test_mixed_group_survives_a_restart(self):
        k = self.classic_group("g-restart")
        r = self.join("g-restart", "m1", [self.topic])
        self.assertEqual(r["error"], 0)
        before = self.describe("g-restart")
        self.broker.stop()
        self.broker.restart()
        after = self.describe("g-restart")
        self.assertEqual((after["error"], after["epoch"]), (0, before["epoch"]))
        self.assertEqual(sorted((m["member_id"], m["type"], m["epoch"]) for m in after["members"]),
                         sorted((m["member_id"], m["type"], m["epoch"]) for m in before["members"]))
        # The classic member carries on where it was: told to rejoin.
        self.assertEqual(k.heartbeat(), REBALANCE_IN_PROGRESS)
        self.assertEqual(k.join()[0], 0)
        self.assertEqual(k.sync()[0], 0)


class MigrationDisabledRawTest(MixedRaw, BrokerTestCase):
    broker_sets = {"num.partitions": 3, "group.initial.rebalance.delay.ms": 0,
                   "group.consumer.migration.policy": "disabled"}

    def test_no_upgrade_and_no_downgrade(self):
        self.classic_group("g-classic")
        r = self.join("g-classic", "m1", [self.topic])
        self.assertEqual((r["error"], r["message"]), (GROUP_ID_NOT_FOUND, "Group g-classic is not a consumer group"))
        # Classic members still join a consumer group; it stays one when
        # its last consumer-protocol member leaves.
        self.assertEqual(self.join("g-mixed", "m1", [self.topic])["error"], 0)
        k = Classic(self.broker.port, "g-mixed", [self.topic])
        self.assertEqual(k.join_fully()[0], 0)
        self.assertEqual(self.hb("g-mixed", "m1", -1)["error"], 0)
        g = self.describe("g-mixed")
        self.assertEqual([(m["member_id"], m["type"]) for m in g["members"]], [(k.member_id, CLASSIC)])


if __name__ == "__main__":
    unittest.main()
