"""offsets.retention.minutes (here runnel.offsets.retention.ms, 2 s, checked
every 300 ms), as Kafka applies it (KIP-211): offsets committed outside a
group expire that long after their commit; an empty group's expire that long
after its last member left, and the group is then deleted; a stable consumer
group keeps the offsets of the topics it subscribes to however old."""
import time
import unittest

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from helpers import BrokerTestCase, admin, consumer, create_topic, producer

RETENTION_S = 2.0


def wait_until(cond, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


class OffsetsRetentionTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "runnel.offsets.retention.ms": int(RETENTION_S * 1000),
                   "offsets.retention.check.interval.ms": 300, "group.initial.rebalance.delay.ms": 0}

    def committed(self, group, tp):
        a = admin(self.bootstrap)
        try:
            offsets = a.list_consumer_group_offsets(group)
        finally:
            a.close()
        return offsets[tp].offset if tp in offsets else None

    def groups(self):
        a = admin(self.bootstrap)
        try:
            return {g for g, _ in a.list_consumer_groups()}
        finally:
            a.close()

    def test_offsets_committed_outside_a_group_expire(self):
        create_topic(self.bootstrap, "ret-standalone")
        tp = TopicPartition("ret-standalone", 0)
        c = consumer(self.bootstrap, group_id="ret-standalone-g", session_timeout_ms=6000)
        try:
            c.assign([tp])
            c.commit({tp: OffsetAndMetadata(5, None)})
            committed_at = time.time()
            self.assertEqual(c.committed(tp), 5)
        finally:
            c.close()
        self.assertTrue(wait_until(lambda: self.committed("ret-standalone-g", tp) is None))
        self.assertGreaterEqual(time.time() - committed_at, RETENTION_S)

    def test_empty_group_expires_with_its_offsets(self):
        create_topic(self.bootstrap, "ret-group")
        p = producer(self.bootstrap)
        for i in range(3):
            p.send("ret-group", value=b"%d" % i)
        p.flush(10)
        p.close()
        tp = TopicPartition("ret-group", 0)
        c = consumer(self.bootstrap, group_id="ret-empty-g", session_timeout_ms=6000, heartbeat_interval_ms=500)
        c.subscribe(["ret-group"])
        seen = 0
        deadline = time.time() + 20
        while seen < 3 and time.time() < deadline:
            seen += sum(len(v) for v in c.poll(timeout_ms=200).values())
        c.commit()
        c.close()  # leaves the group: it is empty from now on
        left_at = time.time()
        self.assertEqual(self.committed("ret-empty-g", tp), 3)
        self.assertIn("ret-empty-g", self.groups())
        self.assertTrue(wait_until(lambda: self.committed("ret-empty-g", tp) is None))
        self.assertGreaterEqual(time.time() - left_at, RETENTION_S - 0.5)
        self.assertTrue(wait_until(lambda: "ret-empty-g" not in self.groups()))

    def test_stable_group_keeps_its_subscribed_offsets(self):
        create_topic(self.bootstrap, "ret-stable")
        tp = TopicPartition("ret-stable", 0)
        p = producer(self.bootstrap)
        p.send("ret-stable", value=b"x").get(10)
        p.close()
        c = consumer(self.bootstrap, group_id="ret-stable-g", session_timeout_ms=6000, heartbeat_interval_ms=500)
        try:
            c.subscribe(["ret-stable"])
            deadline = time.time() + 20
            while not c.poll(timeout_ms=200) and time.time() < deadline:
                pass
            c.commit()
            # Twice the retention, still a member, no new commit.
            end = time.time() + 2 * RETENTION_S
            while time.time() < end:
                c.poll(timeout_ms=200)
            self.assertEqual(self.committed("ret-stable-g", tp), 1)
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
