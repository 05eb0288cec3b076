"""A partition whose storage fails goes offline; the broker serves the others
(issue 11). Two ways in:

- at run time: the broker runs with --fault-injection, and SIGUSR1 makes every
  fdatasync under one partition's directory fail with EIO (a disk going bad
  under it). After a failed sync what was written may not be on disk, so the
  partition must stop taking writes and acknowledging them, say so in the log
  and show no leader in Metadata, while the other partitions keep working; a
  restart recovers it with every record acknowledged before the fault.
- at start-up: a partition's log cannot be opened; it stays offline with a log
  line, the broker starts and serves the others."""
import os
import shutil
import signal
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from broker import Broker
from helpers import create_topic, read_partition

TOPIC = "disk"
PARTITIONS = 3
BAD = 1


def produce(bootstrap, partition, values, timeout=6.0):
    """acks=all; returns {value: offset} of what was acknowledged."""
    acked = {}

    def on_delivery(err, msg):
        if err is None:
            acked[msg.value()] = msg.offset()

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": int(timeout * 1000), "socket.timeout.ms": 3000})
    for v in values:
        p.produce(TOPIC, value=v, partition=partition, on_delivery=on_delivery)
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


if __name__ == "__main__":
    unittest.main()
