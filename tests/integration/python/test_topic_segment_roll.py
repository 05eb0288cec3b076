"""Segment files set by topic configs (issue 13): segment.jitter.ms rolls
segments before segment.ms by a random jitter, segment.index.bytes rolls the
active segment once its offset or time index is full, as Kafka does; and
preallocate reserves segment.bytes of disk per segment, with a kill -9 keeping
every acknowledged record and the restart clean."""
import glob
import os
import time
import unittest

from confluent_kafka import Producer

from broker import Broker
from helpers import BrokerTestCase, create_topic, producer, read_partition

JITTER_PARTITIONS = 20


class SegmentRollTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "log.retention.check.interval.ms": 100}

    def segments(self, topic, partition=0):
        return len(glob.glob(os.path.join(self.broker.data_dir, "%s-%d" % (topic, partition), "*.log")))

    def test_segment_jitter_rolls_before_segment_ms(self):
        create_topic(self.bootstrap, "roll-jitter", JITTER_PARTITIONS,
                     configs={"segment.ms": "4000", "segment.jitter.ms": "4000"})
        create_topic(self.bootstrap, "roll-plain", configs={"segment.ms": "4000"})
        p = producer(self.bootstrap, acks=1, linger_ms=0)
        for partition in range(JITTER_PARTITIONS):
            p.send("roll-jitter", b"j", partition=partition)
        p.send("roll-plain", b"p", partition=0)
        p.flush(10)
        p.close()
        time.sleep(2.0)
        # A jitter is drawn below 4000 ms for each segment: about half of them
        # roll within 2 s (none of 20: probability 2^-20).
        rolled = sum(1 for partition in range(JITTER_PARTITIONS) if self.segments("roll-jitter", partition) > 1)
        self.assertGreater(rolled, 0)
        self.assertEqual(self.segments("roll-plain"), 1, "segment.ms without jitter rolled early")
        self.assertBrokerAlive()

    def test_segment_index_bytes_rolls_when_an_index_is_full(self):
        # 60 bytes: five 12-byte time index entries; an entry for every batch.
        create_topic(self.bootstrap, "roll-index", configs={"segment.index.bytes": "60", "index.interval.bytes": "0"})
        p = producer(self.bootstrap, acks=1, linger_ms=0)
        now = int(time.time() * 1000)
        for i in range(30):
            p.send("roll-index", b"v%d" % i, partition=0, timestamp_ms=now + i)
            p.flush(10)
        p.close()
        self.assertGreaterEqual(self.segments("roll-index"), 5)
        values = [r.value for r in read_partition(self.bootstrap, "roll-index", 0)]
        self.assertEqual(values, [b"v%d" % i for i in range(30)])
        self.assertBrokerAlive()


class PreallocateTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def test_preallocated_segments_survive_kill9(self):
        segment_bytes = 65536
        create_topic(self.broker.bootstrap, "prealloc",
                     configs={"preallocate": "true", "segment.bytes": str(segment_bytes)})
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 1,
                             "batch.size": 4096})
        acked = {}

        def on_delivery(err, msg):
            if err is None:
                acked[msg.offset()] = msg.value()

        for i in range(3000):
            producer.produce("prealloc", value=b"r%05d" % i + b"x" * 90, on_delivery=on_delivery)
            if i % 200 == 0:
                producer.poll(0)
        producer.flush(15)
        partition_dir = os.path.join(self.broker.data_dir, "prealloc-0")
        logs = sorted(glob.glob(os.path.join(partition_dir, "*.log")))
        self.assertGreater(len(logs), 3, "no segment rolled")
        active = logs[-1]
        st = os.stat(active)
        reserved = st.st_blocks * 512
        self.assertLess(st.st_size, segment_bytes, "the active segment's length is not that of its data")
        if reserved < segment_bytes:
            self.skipTest("the file system does not preallocate")
        for sealed in logs[:-1]:  # sealed: the reservation past the data released
            self.assertLess(os.stat(sealed).st_blocks * 512, os.path.getsize(sealed) + 8192)

        self.broker.kill9()
        self.broker.restart()
        self.assertEqual(len(acked), 3000)
        got = {r.offset: r.value for r in read_partition(self.broker.bootstrap, "prealloc", 0)}
        for offset, value in acked.items():
            self.assertEqual(got.get(offset), value, "acknowledged record %d lost after kill -9" % offset)
        self.assertEqual(len(got), 3000)
        # Everything acknowledged was synced: there is no torn tail, and no
        # zero tail either (the reservation does not lengthen the file).
        log = self.broker.log()
        self.assertNotIn("torn or corrupt data", log, "recovery cut bytes from a preallocated segment")


if __name__ == "__main__":
    unittest.main()
