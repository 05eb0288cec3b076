"""A partition whose storage fails goes offline; the broker serves the others
(issue 11). Two ways in:

- at run time: the broker runs with --fault-injection, and SIGUSR1 makes every
  fdatasync under one partition's directory fail with EIO (a disk going bad
  under it). After a failed sync what was written may not be on disk, so the
  partition must stop taking writes and acknowledging them, say so in the log
  and show no leader in Metadata, while the other partitions keep working; a
  restart recovers it with every record acknowledged before the fault.
- at start-up: a partition's log cannot be opened; it stays offline with a log
  line, the broker starts and serves the others.
- in a cluster: a leader whose syncs fail hands its leadership to another ISR
  member and leaves the ISR; acks=all producers carry on against the new
  leader with nothing acknowledged lost, and once restarted the broker
  catches up and rejoins the ISR."""
import os
import shutil
import signal
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

import etcd
from broker import Broker
from cluster import Cluster, wait_for
from helpers import admin, create_topic, read_partition
from kafka.admin import NewTopic

TOPIC = "disk"
PARTITIONS = 3
BAD = 1


def produce(bootstrap, partition, values, timeout=6.0, topic=TOPIC):
    """acks=all; returns {value: offset} of what was acknowledged."""
    acked = {}

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value()] = msg.offset()

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": int(timeout * 1000), "socket.timeout.ms": 3000})
    for v in values:
        p.produce(topic, value=v, partition=partition, on_delivery=on_delivery)
    p.flush(timeout + 5)
    return acked


def partition_leaders(bootstrap):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(TOPIC, timeout=10)
    return {p: (m.leader, m.error.code() if m.error else 0) for p, m in md.topics[TOPIC].partitions.items()}


class OfflinePartitionTest(unittest.TestCase):
    def tearDown(self):
        self.broker.cleanup()

    def test_failed_sync_takes_only_that_partition_offline(self):
        self.broker = Broker(sets={"num.partitions": PARTITIONS}, args=["--fault-injection"]).start()
        b = self.broker.bootstrap
        create_topic(b, TOPIC, PARTITIONS)
        before = {p: produce(b, p, [b"before-%d-%d" % (p, i) for i in range(50)]) for p in range(PARTITIONS)}
        for p in range(PARTITIONS):
            self.assertEqual(len(before[p]), 50)

        with open(os.path.join(self.broker.data_dir, "fail-syncs"), "w") as f:
            f.write("%s-%d\n" % (TOPIC, BAD))
        self.broker.signal(signal.SIGUSR1)
        time.sleep(0.3)

        during = produce(b, BAD, [b"during-%d" % i for i in range(5)], timeout=4.0)
        self.assertEqual(during, {}, "a partition whose syncs fail acknowledged acks=all writes")
        self.assertIn("partition %s-%d is offline" % (TOPIC, BAD), self.broker.log())
        leaders = partition_leaders(b)
        self.assertEqual(leaders[BAD][0], -1, "Metadata still names a leader for the offline partition")
        for p in range(PARTITIONS):
            if p == BAD:
                continue
            self.assertEqual(leaders[p][0], 0)
            ok = produce(b, p, [b"after-%d-%d" % (p, i) for i in range(20)])
            self.assertEqual(len(ok), 20, "partition %d stopped working with %d offline" % (p, BAD))
            self.assertEqual(len(read_partition(b, TOPIC, p)), 70)

        # A restart (without the fault) recovers it from what is on disk.
        self.assertEqual(self.broker.stop(), 0)
        self.broker.args = []
        self.broker.restart()
        log = {r.offset: r.value for r in read_partition(b, TOPIC, BAD)}
        for value, offset in before[BAD].items():
            self.assertEqual(log.get(offset), value)
        self.assertEqual(len(produce(b, BAD, [b"back"])), 1)

    def test_unreadable_partition_at_start_up_stays_offline(self):
        self.broker = Broker(sets={"num.partitions": PARTITIONS}).start()
        b = self.broker.bootstrap
        create_topic(b, TOPIC, PARTITIONS)
        for p in range(PARTITIONS):
            self.assertEqual(len(produce(b, p, [b"r-%d-%d" % (p, i) for i in range(10)])), 10)
        self.broker.kill9()
        # The first segment of the bad partition becomes a directory: it cannot be opened.
        bad_dir = os.path.join(self.broker.data_dir, "%s-%d" % (TOPIC, BAD))
        segment = [f for f in os.listdir(bad_dir) if f.endswith(".log")][0]
        os.remove(os.path.join(bad_dir, segment))
        os.mkdir(os.path.join(bad_dir, segment))
        self.broker.restart()
        self.assertIn("partition %s-%d stays offline" % (TOPIC, BAD), self.broker.log())
        leaders = partition_leaders(b)
        self.assertEqual(leaders[BAD][0], -1)
        for p in range(PARTITIONS):
            if p != BAD:
                self.assertEqual(len(read_partition(b, TOPIC, p)), 10)
                self.assertEqual(len(produce(b, p, [b"more"])), 1)
        shutil.rmtree(os.path.join(bad_dir, segment))


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class OfflineLeaderInClusterTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets={"default.replication.factor": 3, "min.insync.replicas": 2,
                                        "replica.lag.time.max.ms": 2000}, args=["--fault-injection"]).start()

    def tearDown(self):
        self.cluster.cleanup()

    def state(self):
        """(leader, isr) of ledger-0 as any live broker sees it."""
        for n, b in self.cluster.brokers.items():
            v = b.alive() and self.cluster.view(n, ["ledger"])
            if v and "ledger" in v[2] and 0 in v[2]["ledger"][1]:
                s = v[2]["ledger"][1][0]
                return s[1], sorted(s[3])
        return -1, []

    def test_offline_leader_hands_over_and_rejoins_after_restart(self):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("ledger", 1, 3)])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: self.state()[1] == [1, 2, 3]))
        before = produce(c.bootstrap, 0, [b"before-%d" % i for i in range(50)], topic="ledger")
        self.assertEqual(len(before), 50)
        leader = self.state()[0]

        bad = c.brokers[leader]
        with open(os.path.join(bad.data_dir, "fail-syncs"), "w") as f:
            f.write("ledger-0\n")
        bad.signal(signal.SIGUSR1)
        after = produce(c.bootstrap, 0, [b"after-%d" % i for i in range(50)], timeout=30.0, topic="ledger")
        self.assertEqual(len(after), 50, "acks=all writes stopped when the leader's log went offline")
        new_leader, isr = self.state()
        self.assertNotIn(new_leader, (leader, -1))
        self.assertNotIn(leader, isr, "an offline replica stayed in the ISR")
        self.assertIn("its log is offline here", bad.log())

        log = {r.offset: r.value for r in read_partition(c.brokers[new_leader].bootstrap, "ledger", 0)}
        for acked in (before, after):
            for value, offset in acked.items():
                self.assertEqual(log.get(offset), value, "acknowledged record at %d lost" % offset)

        # Restarted without the fault, it recovers the log and rejoins the ISR.
        bad.stop()
        bad.args = [a for a in bad.args if a != "--fault-injection"]
        bad.restart()
        self.assertTrue(wait_for(lambda: self.state()[1] == [1, 2, 3], timeout=30),
                        "the restarted broker did not rejoin the ISR: %r" % (self.state(),))


if __name__ == "__main__":
    unittest.main()
