"""group.max.size (classic groups) and group.consumer.max.size (KIP-848
consumer groups), both 2 here: a third member is refused with
GROUP_MAX_SIZE_REACHED (81) while the first two keep working. Classic: two
librdkafka consumers (Debian's 2.0.2, classic protocol) share a topic, and a
third one, a raw JoinGroup and a raw ConsumerGroupHeartbeat (which would
upgrade the group) are turned away without a rebalance. Consumer protocol:
raw ConsumerGroupHeartbeat members, and a mixed group whose classic member
counts towards the limit. And a classic group of three whose broker comes
back with group.max.size=2: it rebalances at once and keeps two members."""
import time
import unittest

import kproto
from broker import Broker
from helpers import BrokerTestCase, create_topic, producer
from test_consumer_group_protocol import Member
from test_consumer_group_raw import Raw, topic_id
from test_mixed_group_raw import Classic

GROUP_MAX_SIZE_REACHED = 81
UNKNOWN_MEMBER_ID = 25
FULL = "The consumer group has reached its maximum capacity of 2 members."


def wait_for(what, cond, timeout=60, members=()):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s\n%s" % (what, "\n".join(
        "--- %s\n%s" % (m.name, m.transcript()) for m in members)))


class GroupMaxSizeTest(Raw, BrokerTestCase):
    broker_sets = {"num.partitions": 3, "group.initial.rebalance.delay.ms": 0,
                   "group.max.size": 2, "group.consumer.max.size": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for t in ("max-classic", "max-consumer", "max-mixed"):
            create_topic(cls.bootstrap, t, 3)
        cls.tid = topic_id(cls.broker.port, "max-consumer")

    def setUp(self):
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.stop()
        self.assertBrokerAlive()

    def describe_classic(self, group):
        return kproto.parse_describe_groups_v6(
            kproto.round_trip(self.broker.port, kproto.describe_groups_v6(1, [group])))[0]

    def produce(self, topic, tag):
        p = producer(self.bootstrap)
        try:
            for partition in range(3):
                p.send(topic, value=("%s-%d" % (tag, partition)).encode(), partition=partition)
            p.flush(10)
        finally:
            p.close()

    def test_classic_group_third_member_refused(self):
        topic, group = "max-classic", "max-classic-app"
        a, b = (Member(None, self.bootstrap, group, topic, name, protocol="classic") for name in "ab")
        self.members += [a, b]
        both = lambda: sorted(a.owned() | b.owned()) == [0, 1, 2] and a.owned() and b.owned()
        wait_for("a and b sharing the partitions", both, members=self.members)
        self.produce(topic, "first")
        values = lambda: {r[2] for m in (a, b) for r in m.records()}
        wait_for("the first records", lambda: {"first-0", "first-1", "first-2"} <= values(), members=self.members)
        g = self.describe_classic(group)
        self.assertEqual((g["state"], g["members"]), ("Stable", 2), g)
        assigned_before = (len(a.of("assigned")), len(b.of("assigned")))

        # A third member on the wire: refused before any member id is handed out.
        k = Classic(self.broker.port, group, [topic])
        err, _, _, _, member, _ = k.join()
        self.assertEqual((err, member), (GROUP_MAX_SIZE_REACHED, ""))
        # A consumer-protocol member would upgrade the group to a consumer
        # group of three: refused too, and the group stays classic.
        r = self.join(group, "upgrader", [topic])
        self.assertEqual((r["error"], r["message"]), (GROUP_MAX_SIZE_REACHED, FULL))
        # A third real client: librdkafka reports the error, never gets partitions.
        c = Member(None, self.bootstrap, group, topic, "c", protocol="classic")
        self.members.append(c)
        wait_for("c's error", lambda: any("GROUP_MAX_SIZE_REACHED" in e["error"] or "val=81" in e["error"]
                                          for e in c.of("error")), members=self.members)
        self.assertEqual(c.owned(), set(), c.transcript())

        # a and b carry on, without a rebalance.
        self.produce(topic, "second")
        wait_for("the records after the refusals", lambda: {"second-0", "second-1", "second-2"} <= values(),
                 members=self.members)
        self.assertEqual((len(a.of("assigned")), len(b.of("assigned"))), assigned_before)
        g = self.describe_classic(group)
        self.assertEqual((g["state"], g["members"], g["protocol_type"]), ("Stable", 2, "consumer"), g)

    def test_consumer_group_third_member_refused(self):
        group = "max-consumer-app"
        a = self.join(group, "a", ["max-consumer"])
        b = self.join(group, "b", ["max-consumer"])
        self.assertEqual((a["error"], b["error"]), (0, 0))
        c = self.join(group, "c", ["max-consumer"])
        self.assertEqual((c["error"], c["message"]), (GROUP_MAX_SIZE_REACHED, FULL))
        # Leaving is not joining: an unknown member's leave is not a size matter.
        self.assertEqual(self.hb(group, "c", -1)["error"], UNKNOWN_MEMBER_ID)

        # a and b reconcile and heartbeat on.
        owned = {"a": a["assignment"], "b": b["assignment"]}
        epochs = {"a": a["epoch"], "b": b["epoch"]}
        for _ in range(4):
            for m in ("a", "b"):
                r = self.hb(group, m, epochs[m], owned=owned[m])
                self.assertEqual(r["error"], 0, r)
                epochs[m] = r["epoch"]
                if r["assignment"] is not None:
                    owned[m] = r["assignment"]
        self.assertEqual(sorted(owned["a"].get(self.tid, []) + owned["b"].get(self.tid, [])), [0, 1, 2])
        g = self.describe(group)
        self.assertEqual((g["state"], sorted(m["member_id"] for m in g["members"])), ("Stable", ["a", "b"]))

        # Room again once a member leaves.
        self.assertEqual(self.hb(group, "a", -1)["error"], 0)
        self.assertEqual(self.join(group, "c", ["max-consumer"])["error"], 0)

    def test_mixed_group_counts_classic_members(self):
        group, topic = "max-mixed-app", "max-mixed"
        self.assertEqual(self.join(group, "a", [topic])["error"], 0)
        k = Classic(self.broker.port, group, [topic])
        err, _, _, _, member, _ = k.join_fully()
        self.assertEqual(err, 0)
        g = self.describe(group)
        self.assertEqual(sorted(m["type"] for m in g["members"]), [0, 1])  # one classic, one consumer

        k2 = Classic(self.broker.port, group, [topic])
        err, _, _, _, member2, _ = k2.join()
        self.assertEqual((err, member2), (GROUP_MAX_SIZE_REACHED, ""))
        r = self.join(group, "c", [topic])
        self.assertEqual((r["error"], r["message"]), (GROUP_MAX_SIZE_REACHED, FULL))
        # The classic member is still in and rejoins as before.
        err, *_ = k.join()
        self.assertEqual(err, 0)
        self.assertEqual(len(self.describe(group)["members"]), 2)


class LoweredLimitTest(unittest.TestCase):
    """group.max.size lowered across a restart: the group loaded over the
    limit rebalances, the first two members to rejoin stay, the third is
    refused."""

    def test_group_over_the_lowered_limit_rebalances_down_to_it(self):
        topic, group = "max-lowered", "max-lowered-app"
        broker = Broker(sets={"num.partitions": 3, "group.initial.rebalance.delay.ms": 0, "group.max.size": 3}).start()
        members = []
        try:
            create_topic(broker.bootstrap, topic, 3)
            members += [Member(None, broker.bootstrap, group, topic, name, protocol="classic") for name in "abc"]
            wait_for("one partition each", lambda: all(len(m.owned()) == 1 for m in members), members=members)
            self.assertEqual(broker.stop(), 0)
            broker.sets["group.max.size"] = 2
            broker.restart()

            refused = lambda m: any("GROUP_MAX_SIZE_REACHED" in e["error"] or "val=81" in e["error"]
                                    for e in m.of("error"))
            wait_for("a member refused", lambda: any(refused(m) for m in members), members=members)
            stayed = [m for m in members if not refused(m)]
            self.assertEqual(len(stayed), 2, [m.name for m in members])
            wait_for("the two members sharing every partition",
                     lambda: sorted(stayed[0].owned() | stayed[1].owned()) == [0, 1, 2]
                     and stayed[0].owned() and stayed[1].owned(), members=members)
            g = kproto.parse_describe_groups_v6(kproto.round_trip(broker.port, kproto.describe_groups_v6(1, [group])))[0]
            self.assertEqual((g["state"], g["members"]), ("Stable", 2), g)
        finally:
            for m in members:
                m.stop()
            alive = broker.alive()
            log = broker.log()
            broker.cleanup()
            self.assertTrue(alive, log)
