"""KIP-848 consumer groups (ConsumerGroupHeartbeat 68, ConsumerGroupDescribe 69)
over the raw protocol (kproto): joins, the handover of a partition only after
its previous owner revoked it, Kafka's errors (unknown member, fenced epoch,
unknown group, invalid requests, unsupported assignor, stale epoch on commit
and fetch, a classic member or a busy classic group of the same id), group
types in ListGroups, and a group that survives a broker restart, whose members
must heartbeat again in time."""
import subprocess
import time
import unittest

import kproto
from helpers import BrokerTestCase, create_topic

UNKNOWN_MEMBER_ID = 25
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_REQUEST = 42
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
FENCED_MEMBER_EPOCH = 110
UNRELEASED_INSTANCE_ID = 111
UNSUPPORTED_ASSIGNOR = 112
STALE_MEMBER_EPOCH = 113
INVALID_REGULAR_EXPRESSION = 128


def topic_id(port, topic):
    md = kproto.parse_metadata_flexible(kproto.round_trip(port, kproto.metadata_flexible(1, 13, [topic])), 13)
    return md["topics"][topic]["id"]


class Raw:
    """Heartbeats and descriptions against one broker."""

    def hb(self, group, member_id, epoch, **kw):
        return kproto.parse_consumer_group_heartbeat(
            kproto.round_trip(self.broker.port, kproto.consumer_group_heartbeat(7, group, member_id, epoch, **kw)))

    def join(self, group, member_id, topics, **kw):
        return self.hb(group, member_id, 0, rebalance_timeout_ms=30000, topics=topics, owned={}, **kw)

    def describe(self, group):
        out = kproto.parse_consumer_group_describe(
            kproto.round_trip(self.broker.port, kproto.consumer_group_describe(3, [group])))
        self.assertEqual(len(out), 1)
        return out[0]


class ConsumerGroupRawTest(Raw, BrokerTestCase):
    broker_sets = {"num.partitions": 3, "group.initial.rebalance.delay.ms": 0}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, "cg-raw", 3)
        cls.tid = topic_id(cls.broker.port, "cg-raw")

    def tearDown(self):
        self.assertBrokerAlive()

    def test_join_heartbeat_describe_leave(self):
        r = self.join("g-basic", "m1", ["cg-raw"])
        self.assertEqual((r["error"], r["member_id"], r["epoch"], r["interval"]), (0, "m1", 1, 5000))
        self.assertEqual(r["assignment"], {self.tid: [0, 1, 2]})
        # A steady heartbeat: nothing changed, so no assignment is sent.
        r = self.hb("g-basic", "m1", 1, owned={self.tid: [0, 1, 2]})
        self.assertEqual((r["error"], r["epoch"], r["assignment"]), (0, 1, None))
        g = self.describe("g-basic")
        self.assertEqual((g["error"], g["state"], g["epoch"], g["assignment_epoch"], g["assignor"]),
                         (0, "Stable", 1, 1, "uniform"))
        self.assertEqual(len(g["members"]), 1)
        m = g["members"][0]
        self.assertEqual((m["member_id"], m["epoch"], m["topics"], m["type"]), ("m1", 1, ["cg-raw"], 1))
        self.assertEqual(m["assignment"], {"cg-raw": [0, 1, 2]})
        self.assertEqual(m["target"], {"cg-raw": [0, 1, 2]})
        # `runnel group describe` shows a consumer group too.
        out = subprocess.run([self.broker.binary, "group", "describe", "g-basic", "--bootstrap", self.bootstrap],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertIn("TYPE consumer STATE Stable", lines[0])
        self.assertIn("GROUP-EPOCH 1", lines[0])
        rows = [l.split() for l in lines[3:]]  # after the summary, a blank line and the header
        self.assertEqual(sorted((r[1], r[2], r[6]) for r in rows),
                         [("cg-raw", str(p), "m1") for p in range(3)])
        # Leaving answers the leave epoch; the group is then empty.
        r = self.hb("g-basic", "m1", -1)
        self.assertEqual((r["error"], r["member_id"], r["epoch"]), (0, "m1", -1))
        g = self.describe("g-basic")
        self.assertEqual((g["state"], g["members"]), ("Empty", []))

    def test_partition_handed_over_only_after_revocation(self):
        a = self.join("g-handover", "a", ["cg-raw"])
        self.assertEqual(a["assignment"], {self.tid: [0, 1, 2]})
        b = self.join("g-handover", "b", ["cg-raw"])
        self.assertEqual(b["error"], 0)
        self.assertEqual(b["epoch"], 2)
        self.assertEqual(b["assignment"], {})  # a still owns everything
        # a is told to give some up, and keeps its epoch until it has.
        a2 = self.hb("g-handover", "a", 1, owned={self.tid: [0, 1, 2]})
        self.assertEqual(a2["epoch"], 1)
        kept = a2["assignment"][self.tid]
        self.assertLess(len(kept), 3)
        b2 = self.hb("g-handover", "b", 2, owned={})
        self.assertIn(b2["assignment"], (None, {}))
        self.assertEqual(self.describe("g-handover")["state"], "Reconciling")
        # a stops reporting them: it moves to epoch 2 and b gets them.
        a3 = self.hb("g-handover", "a", 1, owned={self.tid: kept})
        self.assertEqual((a3["error"], a3["epoch"]), (0, 2))
        b3 = self.hb("g-handover", "b", 2, owned={})
        got = b3["assignment"][self.tid]
        self.assertEqual(sorted(kept + got), [0, 1, 2])
        g = self.describe("g-handover")
        self.assertEqual(g["state"], "Stable")
        self.assertEqual(sorted(m["epoch"] for m in g["members"]), [2, 2])

    def test_errors_as_kafka(self):
        self.join("g-errors", "m1", ["cg-raw"])
        r = self.hb("g-errors", "nobody", 1, owned={})
        self.assertEqual(r["error"], UNKNOWN_MEMBER_ID)
        self.assertEqual(r["message"], "Member nobody is not a member of group g-errors.")
        self.assertEqual(self.hb("g-errors", "m1", 7, owned={})["error"], FENCED_MEMBER_EPOCH)
        self.assertEqual(self.hb("g-no-such-group", "m1", 1, owned={})["error"], GROUP_ID_NOT_FOUND)
        self.assertEqual(self.hb("g-no-such-group", "m1", -1)["error"], GROUP_ID_NOT_FOUND)
        r = self.join("g-errors", "", ["cg-raw"])  # v1: the client makes the member id (KIP-1082)
        self.assertEqual((r["error"], r["message"]), (INVALID_REQUEST, "MemberId can't be empty."))
        r = self.hb("g-errors", "m2", 0, topics=["cg-raw"], owned={})  # no rebalance timeout
        self.assertEqual(r["error"], INVALID_REQUEST)
        self.assertEqual(self.hb("g-errors", "m2", -5)["error"], INVALID_REQUEST)
        r = self.join("g-errors", "m2", ["cg-raw"], assignor="sticky")
        self.assertEqual(r["error"], UNSUPPORTED_ASSIGNOR)
        self.assertIn("uniform", r["message"])
        r = self.hb("g-errors", "m2", 0, rebalance_timeout_ms=1000, regex="(unclosed", owned={})
        self.assertEqual(r["error"], INVALID_REGULAR_EXPRESSION)
        # v0: the coordinator makes the member id.
        r = self.hb("g-errors", "", 0, version=0, rebalance_timeout_ms=1000, topics=["cg-raw"], owned={})
        self.assertEqual(r["error"], 0)
        self.assertEqual(len(r["member_id"]), 22)
        # The group is still there and m1 still in it.
        self.assertEqual(self.hb("g-errors", "m1", 1, owned={self.tid: [0, 1, 2]})["error"], 0)

    def test_static_member_cannot_take_a_live_instance_id(self):
        self.assertEqual(self.join("g-static", "s1", ["cg-raw"], instance_id="i1")["error"], 0)
        self.assertEqual(self.join("g-static", "s2", ["cg-raw"], instance_id="i1")["error"], UNRELEASED_INSTANCE_ID)
        r = self.hb("g-static", "s1", -2, instance_id="i1")
        self.assertEqual((r["error"], r["epoch"]), (0, -2))
        r = self.join("g-static", "s2", ["cg-raw"], instance_id="i1")
        self.assertEqual(r["error"], 0)
        self.assertEqual(r["assignment"], {self.tid: [0, 1, 2]})  # the instance's partitions, kept for it

    def test_offset_commit_and_fetch_check_the_member_epoch(self):
        r = self.join("g-commit", "m1", ["cg-raw"])
        epoch = r["epoch"]
        commit = lambda gen, member: kproto.parse_offset_commit_flexible(kproto.round_trip(
            self.broker.port, kproto.offset_commit_flexible(1, 9, "g-commit", "cg-raw", 0, 42, gen, member)))
        self.assertEqual(commit(epoch + 1, "m1"), STALE_MEMBER_EPOCH)
        self.assertEqual(commit(epoch, "nobody"), UNKNOWN_MEMBER_ID)
        self.assertEqual(commit(-1, ""), UNKNOWN_MEMBER_ID)  # from outside, while it has members
        self.assertEqual(commit(epoch, "m1"), 0)
        fetch = lambda member, e: kproto.parse_offset_fetch_v9(kproto.round_trip(
            self.broker.port, kproto.offset_fetch_v9(2, "g-commit", "cg-raw", 0, member, e)))
        self.assertEqual(fetch("m1", epoch), (0, 0, 42))
        self.assertEqual(fetch(None, -1), (0, 0, 42))  # an admin client
        group_error = lambda member, e: kproto.parse_offset_fetch_v9_group(kproto.round_trip(
            self.broker.port, kproto.offset_fetch_v9(2, "g-commit", "cg-raw", 0, member, e)))[0]
        self.assertEqual(group_error("m1", epoch + 3), STALE_MEMBER_EPOCH)
        self.assertEqual(group_error("nobody", epoch), UNKNOWN_MEMBER_ID)

    def test_list_groups_types_and_classic_members(self):
        self.join("g-typed", "m1", ["cg-raw"])
        lg = lambda types: kproto.parse_list_groups_v5(
            kproto.round_trip(self.broker.port, kproto.list_groups_v5(1, types=types)))[1]
        self.assertEqual(lg(["consumer"])["g-typed"], ("consumer", "Stable", "consumer"))
        self.assertNotIn("g-typed", lg(["classic"]))
        # DescribeGroups knows classic groups only, as Kafka's.
        d = kproto.parse_describe_groups_v6(kproto.round_trip(self.broker.port, kproto.describe_groups_v6(1, ["g-typed"])))
        self.assertEqual(d[0]["error"], GROUP_ID_NOT_FOUND)
        # A classic member joins the consumer group (a mixed group, KIP-848)
        # only with the consumer protocol type.
        err, _ = kproto.parse_join_group_v5(kproto.round_trip(
            self.broker.port, kproto.join_group_v5(1, "g-typed", protocol_type="connect")))
        self.assertEqual(err, INCONSISTENT_GROUP_PROTOCOL)
        err, _ = kproto.parse_join_group_v5(kproto.round_trip(self.broker.port, kproto.join_group_v5(1, "g-typed")))
        self.assertEqual(err, MEMBER_ID_REQUIRED)
        # A classic group with members whose subscription cannot be read is
        # not upgraded (Kafka's convertToConsumerGroup).
        err, member = kproto.parse_join_group_v5(kproto.round_trip(self.broker.port, kproto.join_group_v5(1, "g-classic")))
        self.assertEqual(err, MEMBER_ID_REQUIRED)
        c = kproto.Conn(self.broker.port, timeout=10)
        try:
            c.send(kproto.join_group_v5(2, "g-classic", member_id=member))
            err, _ = kproto.parse_join_group_v5(c.recv_frame())
            self.assertEqual(err, 0)
            r = self.join("g-classic", "m1", ["cg-raw"])
            self.assertEqual((r["error"], r["message"]), (GROUP_ID_NOT_FOUND,
                             "Cannot upgrade the classic group g-classic to consumer group because the embedded "
                             "consumer protocol is malformed."))
            self.assertEqual(lg(["classic"])["g-classic"][2], "classic")
        finally:
            c.close()
        g = self.describe("g-classic")
        self.assertEqual(g["error"], GROUP_ID_NOT_FOUND)


class ConsumerGroupRestartTest(Raw, BrokerTestCase):
    # Below Kafka's bounds (45 s, 5 s), so they are lowered too; the interval
    # must stay under the session, as Kafka requires.
    broker_sets = {"num.partitions": 3, "group.consumer.session.timeout.ms": 4000,
                   "group.consumer.min.session.timeout.ms": 1000, "group.consumer.heartbeat.interval.ms": 1000,
                   "group.consumer.min.heartbeat.interval.ms": 100}

    def test_group_survives_a_restart_and_silent_members_are_fenced(self):
        create_topic(self.bootstrap, "cg-restart", 3)
        tid = topic_id(self.broker.port, "cg-restart")
        a = self.join("g-restart", "a", ["cg-restart"])
        b = self.join("g-restart", "b", ["cg-restart"])
        a = self.hb("g-restart", "a", a["epoch"], owned={tid: a["assignment"][tid]})
        owned_a = a["assignment"][tid]
        a = self.hb("g-restart", "a", a["epoch"], owned={tid: owned_a})
        b = self.hb("g-restart", "b", b["epoch"], owned={})
        before = self.describe("g-restart")
        self.assertEqual(before["state"], "Stable")
        self.broker.stop()
        self.broker.restart()
        after = self.describe("g-restart")
        self.assertEqual((after["epoch"], after["assignment_epoch"]), (before["epoch"], before["assignment_epoch"]))
        self.assertEqual(sorted((m["member_id"], m["epoch"]) for m in after["members"]),
                         sorted((m["member_id"], m["epoch"]) for m in before["members"]))
        # a carries on with its epoch; b says nothing and is fenced after its session.
        deadline = time.time() + 10
        while time.time() < deadline and len(self.describe("g-restart")["members"]) > 1:
            r = self.hb("g-restart", "a", a["epoch"], owned={tid: owned_a})
            self.assertEqual(r["error"], 0)
            if r["assignment"] is not None:
                owned_a = r["assignment"][tid]
            a["epoch"] = r["epoch"]
            time.sleep(0.5)
        g = self.describe("g-restart")
        self.assertEqual([m["member_id"] for m in g["members"]], ["a"])
        r = self.hb("g-restart", "b", b["epoch"], owned={})
        self.assertEqual(r["error"], UNKNOWN_MEMBER_ID)
        # a ends up with every partition.
        for _ in range(4):
            r = self.hb("g-restart", "a", a["epoch"], owned={tid: owned_a})
            a["epoch"] = r["epoch"]
            if r["assignment"] is not None:
                owned_a = r["assignment"][tid]
        self.assertEqual(sorted(owned_a), [0, 1, 2])


if __name__ == "__main__":
    unittest.main()
