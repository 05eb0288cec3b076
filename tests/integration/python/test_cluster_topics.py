"""Topics in a cluster: created, grown and deleted through any broker, placed
on the brokers by the replica assignment (or by hand), served by their
leaders only, with the same Metadata from every broker, and consumer groups
coordinated by the leader of their __consumer_offsets partition. Three brokers
and a real etcd on free loopback ports. Replication factor 1: runnel does not
replicate partitions yet, and says so when asked for more."""
import os
import subprocess
import unittest
from collections import Counter

from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import InvalidReplicationFactorError

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import admin, consumer, producer

NOT_LEADER_OR_FOLLOWER = 6


def leaders(view, topic):
    """{partition: leader} of one topic in a Metadata view, or None when absent."""
    if not view or topic not in view[2] or view[2][topic][0] != 0:
        return None
    return {p: v[1] for p, v in view[2][topic][1].items()}


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterTopicsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3, sets={"broker.session.timeout.ms": 3000, "num.partitions": 3,
                                       "group.initial.rebalance.delay.ms": 0}).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def agreed_leaders(self, topic, partitions):
        """The topic's leaders once every broker reports the same full set."""
        def same():
            views = [leaders(self.cluster.view(n, [topic]), topic) for n in self.cluster.brokers]
            if any(v is None or len(v) != partitions for v in views) or any(v != views[0] for v in views):
                return None
            return views[0]
        return wait_for(same)

    def test_create_produce_consume_grow_delete(self):
        a = admin(self.cluster.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("orders", 6, 1)])
        finally:
            a.close()
        placed = self.agreed_leaders("orders", 6)
        self.assertTrue(placed, "brokers disagree on orders' leaders")
        self.assertEqual(sorted(Counter(placed.values()).values()), [2, 2, 2], placed)
        # Each partition's data lives on its leader only.
        for p, leader in placed.items():
            for n, b in self.cluster.brokers.items():
                self.assertEqual(os.path.isdir(os.path.join(b.data_dir, "orders-%d" % p)), n == leader,
                                 "orders-%d on broker %d (leader %d)" % (p, n, leader))

        prod = producer(self.cluster.bootstrap, acks="all")
        sent = {}
        for i in range(60):
            md = prod.send("orders", key=b"k%d" % i, value=b"v%d" % i).get(timeout=20)
            sent[b"v%d" % i] = (md.partition, md.offset)
        prod.close()
        c = consumer(self.cluster.bootstrap)
        parts = [TopicPartition("orders", p) for p in range(6)]
        c.assign(parts)
        c.seek_to_beginning()
        got = {}
        deadline_polls = 100
        while len(got) < 60 and deadline_polls:
            for records in c.poll(timeout_ms=200).values():
                for r in records:
                    got[r.value] = (r.partition, r.offset)
            deadline_polls -= 1
        c.close()
        self.assertEqual(got, sent)

        # A broker that does not lead a partition refuses to take writes for it.
        p, leader = next(iter(placed.items()))
        other = next(n for n in self.cluster.brokers if n != leader)
        conn = kproto.Conn(self.cluster.brokers[other].port)
        conn.send(kproto.produce(7, "orders", p, kproto.record_batch([(None, b"stray")])))
        _, results = kproto.parse_produce_v8(conn.recv_frame())
        conn.close()
        self.assertEqual(results[0]["error"], NOT_LEADER_OR_FOLLOWER)

        a = admin(self.cluster.brokers[3].bootstrap)
        try:
            a.create_partitions({"orders": NewPartitions(9)})
        finally:
            a.close()
        self.assertTrue(self.agreed_leaders("orders", 9))

        out = subprocess.run([os.environ["RUNNEL_BIN"], "cluster", "status", "--bootstrap",
                              self.cluster.brokers[2].bootstrap], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sum(1 for line in out.stdout.splitlines() if line.startswith("orders ")), 9, out.stdout)

        a = admin(self.cluster.brokers[2].bootstrap)
        try:
            a.delete_topics(["orders"])
        finally:
            a.close()
        for n in self.cluster.brokers:
            self.assertTrue(wait_for(lambda: "orders" not in (self.cluster.view(n, None) or ({}, 0, {"orders": 0}))[2]))
        for b in self.cluster.brokers.values():
            self.assertTrue(wait_for(lambda: not any(d.startswith("orders-") for d in os.listdir(b.data_dir))))

    def test_manual_assignment_and_replication_factor(self):
        a = admin(self.cluster.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("pinned", -1, -1, replica_assignments={0: [3], 1: [2]})])
            # More replicas than live brokers: Kafka's INVALID_REPLICATION_FACTOR.
            with self.assertRaises(InvalidReplicationFactorError):
                a.create_topics([NewTopic("replicated", 3, 4)])
        finally:
            a.close()
        self.assertEqual(self.agreed_leaders("pinned", 2), {0: 3, 1: 2})

    def test_config_changes_reach_every_broker(self):
        a = admin(self.cluster.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("tuned", 1, 1)])
            a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "tuned", configs={"retention.ms": "123456"})])
        finally:
            a.close()

        def retention_on(node):
            b = admin(self.cluster.brokers[node].bootstrap)
            try:
                res = b.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "tuned")])
                entries = res[0].resources[0][4]
                return {e[0]: e[1] for e in entries}.get("retention.ms")
            finally:
                b.close()

        for node in (2, 3):
            self.assertEqual(wait_for(lambda: retention_on(node) == "123456" and "123456"), "123456", node)

    def test_consumer_group_is_coordinated_by_the_offsets_leader(self):
        a = admin(self.cluster.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("events", 3, 1)])
        finally:
            a.close()
        self.assertTrue(self.agreed_leaders("events", 3))
        prod = producer(self.cluster.bootstrap)
        for i in range(30):
            prod.send("events", value=b"e%d" % i)
        prod.flush(20)
        prod.close()

        def consume(expect):
            c = consumer(self.cluster.bootstrap, group_id="cluster-group", enable_auto_commit=False,
                         session_timeout_ms=6000, heartbeat_interval_ms=1000)
            c.subscribe(["events"])
            seen = []
            for _ in range(100):
                for records in c.poll(timeout_ms=200).values():
                    seen.extend(r.value for r in records)
                if len(seen) >= expect and c.assignment():
                    break
            c.commit()
            c.close()
            return seen

        self.assertEqual(len(consume(30)), 30)
        # Committed at the coordinator: a new member of the group starts after them.
        prod = producer(self.cluster.bootstrap)
        for i in range(5):
            prod.send("events", value=b"late%d" % i)
        prod.flush(20)
        prod.close()
        self.assertEqual(sorted(consume(5)), sorted(b"late%d" % i for i in range(5)))
        # The offsets topic is spread over the brokers like any other.
        offsets = leaders(self.cluster.view(1, ["__consumer_offsets"]), "__consumer_offsets")
        self.assertEqual(set(offsets.values()), {1, 2, 3})


if __name__ == "__main__":
    unittest.main()
