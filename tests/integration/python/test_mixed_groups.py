"""Mixed consumer groups (KIP-848 online migration) with real clients: a
rolling upgrade, classic members (Debian's librdkafka 2.0.2) replaced one at
a time by librdkafka 2.12 members with group.protocol=consumer, and the
reverse rolling downgrade. The group converts (classic -> consumer when the
first consumer-protocol member joins; consumer -> classic when the last one
leaves), the three partitions stay split one per member, committed offsets
carry over, and no record is lost or read twice (beyond a record whose commit
never succeeded).

Skipped, with the reason, when the current librdkafka cannot be built here."""
import time
import unittest

import kproto
from helpers import BrokerTestCase, create_topic, producer
from test_consumer_group_protocol import Member, current_librdkafka

CLASSIC, CONSUMER = 0, 1  # ConsumerGroupDescribe's member type (KIP-1099)


class MixedGroupTest(BrokerTestCase):
    broker_sets = {"num.partitions": 3, "group.consumer.heartbeat.interval.ms": 500,
                   "group.consumer.session.timeout.ms": 10000,
                   # Kafka's bounds for the two (45 s, 5 s by default) let them be this short.
                   "group.consumer.min.session.timeout.ms": 1000, "group.consumer.min.heartbeat.interval.ms": 100,
                   "group.initial.rebalance.delay.ms": 0}

    @classmethod
    def setUpClass(cls):
        cls.lib, why = current_librdkafka()
        if not cls.lib:
            raise unittest.SkipTest(why)
        super().setUpClass()

    def setUp(self):
        self.members = []
        self.gone = []

    def tearDown(self):
        for m in self.members + self.gone:
            m.stop()
        self.assertBrokerAlive()

    def start(self, name, group, topic, protocol):
        m = Member(self.lib, self.bootstrap, group, topic, name, protocol)
        self.members.append(m)
        return m

    def stop(self, m):
        m.stop()
        self.assertTrue(m.of("closed"), m.transcript())
        self.members.remove(m)
        self.gone.append(m)

    def wait(self, what, cond, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.2)
        self.fail("timed out waiting for %s\n%s" % (what, "\n".join(
            "--- %s (%s)\n%s" % (m.name, m.protocol, m.transcript()) for m in self.members + self.gone)))

    def produce(self, topic, start, count):
        p = producer(self.bootstrap)
        try:
            for partition in range(3):
                for i in range(start, start + count):
                    p.send(topic, value=("%d-%d" % (partition, i)).encode(), partition=partition)
            p.flush(10)
        finally:
            p.close()

    def consumer_describe(self, group):
        return kproto.parse_consumer_group_describe(
            kproto.round_trip(self.broker.port, kproto.consumer_group_describe(1, [group])))[0]

    def classic_describe(self, group):
        return kproto.parse_describe_groups_v6(
            kproto.round_trip(self.broker.port, kproto.describe_groups_v6(1, [group])))[0]

    def one_each(self):
        ms = self.members
        return (len(ms) == 3 and all(len(m.owned()) == 1 for m in ms) and
                set().union(*(m.owned() for m in ms)) == {0, 1, 2})

    def consumed(self):
        return [r for m in self.members + self.gone for r in m.records()]

    def check_exactly_once(self, total):
        records = self.consumed()
        keys = [(p, o) for p, o, _ in records]
        uncommitted = {(e["partition"], e["offset"]) for m in self.members + self.gone for e in m.of("uncommitted")}
        seen = set()
        for k in keys:
            # Read twice only if its first reader could not commit it.
            self.assertTrue(k not in seen or k in uncommitted, "record %s read twice" % (k,))
            seen.add(k)
        self.assertEqual(seen, {(p, o) for p in range(3) for o in range(total)}, "records lost")
        for p, o, v in records:
            self.assertEqual(v, "%d-%d" % (p, o))

    def check_committed(self, group, topic, total):
        for p in range(3):
            err, perr, offset = kproto.parse_offset_fetch_v9(kproto.round_trip(
                self.broker.port, kproto.offset_fetch_v9(1, group, topic, p)))
            self.assertEqual((err, perr, offset), (0, 0, total), "partition %d" % p)

    def test_rolling_upgrade_from_classic_to_consumer_members(self):
        topic, group, n = "mixed-up", "mixed-up-app", 20
        create_topic(self.bootstrap, topic, 3)
        self.produce(topic, 0, n)
        classic = [self.start("classic-%d" % i, group, topic, "classic") for i in range(3)]
        self.wait("one partition per classic member", self.one_each)
        self.wait("the first records", lambda: len(self.consumed()) >= 3 * n)
        self.assertEqual(self.classic_describe(group)["state"], "Stable")

        for step, old in enumerate(classic):
            self.stop(old)
            self.start("consumer-%d" % step, group, topic, "consumer")
            self.produce(topic, (step + 1) * n, n)
            self.wait("one partition each after replacing %s" % old.name, self.one_each)
            self.wait("the records of step %d" % step, lambda: len(self.consumed()) >= 3 * (step + 2) * n)
            g = self.consumer_describe(group)
            self.assertEqual(g["error"], 0, g)  # a consumer group from the first replacement on
            types = sorted(m["type"] for m in g["members"])
            self.assertEqual(types, sorted([CONSUMER] * (step + 1) + [CLASSIC] * (2 - step)), g)
        self.wait("a stable consumer group", lambda: self.consumer_describe(group)["state"] == "Stable")
        time.sleep(1)  # nothing more arrives
        self.check_exactly_once(4 * n)
        for m in list(self.members):
            self.stop(m)
        self.check_committed(group, topic, 4 * n)

    def test_rolling_downgrade_from_consumer_to_classic_members(self):
        topic, group, n = "mixed-down", "mixed-down-app", 20
        create_topic(self.bootstrap, topic, 3)
        self.produce(topic, 0, n)
        modern = [self.start("consumer-%d" % i, group, topic, "consumer") for i in range(3)]
        self.wait("one partition per consumer member", self.one_each)
        self.wait("the first records", lambda: len(self.consumed()) >= 3 * n)

        for step, old in enumerate(modern):
            self.stop(old)
            self.start("classic-%d" % step, group, topic, "classic")
            self.produce(topic, (step + 1) * n, n)
            self.wait("one partition each after replacing %s" % old.name, self.one_each)
            self.wait("the records of step %d" % step, lambda: len(self.consumed()) >= 3 * (step + 2) * n)
            if step < 2:
                g = self.consumer_describe(group)
                self.assertEqual(sorted(m["type"] for m in g["members"]),
                                 sorted([CLASSIC] * (step + 1) + [CONSUMER] * (2 - step)), g)
        # The last consumer-protocol member left: a classic group again.
        self.wait("a stable classic group", lambda: self.classic_describe(group)["state"] == "Stable")
        d = self.classic_describe(group)
        self.assertEqual((d["error"], d["protocol_type"], d["members"]), (0, "consumer", 3), d)
        self.assertNotEqual(self.consumer_describe(group)["error"], 0)
        time.sleep(1)
        self.check_exactly_once(4 * n)
        for m in list(self.members):
            self.stop(m)
        self.check_committed(group, topic, 4 * n)


if __name__ == "__main__":
    unittest.main()
