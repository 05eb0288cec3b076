"""Topic configuration that changes what the broker does: retention,
message.timestamp.type=LogAppendTime, max.message.bytes changed at run time."""
import time
import unittest

from kafka import errors as Errors
from kafka.admin import ConfigResource, ConfigResourceType

from helpers import BrokerTestCase, TopicPartition, admin, consumer, create_topic, producer, read_partition


class TopicConfigTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "log.retention.check.interval.ms": 300}

    def offsets(self, topic):
        c = consumer(self.bootstrap)
        tp = TopicPartition(topic, 0)
        try:
            return c.beginning_offsets([tp])[tp], c.end_offsets([tp])[tp]
        finally:
            c.close()

    def settled_offsets(self, topic, timeout=10.0):
        """(log start, log end) once retention has deleted something and then
        stopped moving the log start for more than a few check intervals."""
        deadline = time.time() + timeout
        last, since = self.offsets(topic), time.time()
        while time.time() < deadline:
            time.sleep(0.2)
            cur = self.offsets(topic)
            if cur != last:
                last, since = cur, time.time()
            elif cur[0] > 0 and time.time() - since > 1.2:
                break
        return last

    def test_retention_ms_deletes_old_segments(self):
        topic = "cfg_retention"
        create_topic(self.bootstrap, topic, configs={"retention.ms": "60000", "segment.bytes": "16384"})
        p = producer(self.bootstrap, acks="all", linger_ms=0, batch_size=2048)
        old = int(time.time() * 1000) - 3600 * 1000  # an hour old: past retention.ms
        for i in range(200):
            p.send(topic, value=b"old-%04d-" % i + b"x" * 200, timestamp_ms=old, partition=0)
        p.flush(10)
        for i in range(5):
            p.send(topic, value=b"new-%d" % i, partition=0)  # current timestamps: retained
        p.flush(10)
        p.close(5)
        start, end = self.settled_offsets(topic)
        self.assertEqual(end, 205)
        self.assertGreater(start, 0, "no segment was deleted by retention.ms")
        self.assertLessEqual(start, 200, "records newer than retention.ms were deleted")
        recs = read_partition(self.bootstrap, topic, 0, start)
        self.assertEqual(recs[0].offset, start)
        self.assertEqual([r.value for r in recs[-5:]], [b"new-%d" % i for i in range(5)])
        # a fetch below the log start offset is OFFSET_OUT_OF_RANGE; kafka-python resets to earliest
        recs = read_partition(self.bootstrap, topic, 0)
        self.assertEqual(recs[0].offset, start)

    def test_retention_ms_empties_a_quiet_topic(self):
        # Kafka deletes the active segment too once all of it is past retention.ms
        # (rolling a new one first): a quiet topic's records go after retention.ms,
        # not at the next segment.ms roll, a week later by default.
        topic = "cfg_retention_quiet"
        create_topic(self.bootstrap, topic, configs={"retention.ms": "1000"})
        p = producer(self.bootstrap, acks="all", linger_ms=0)
        for i in range(5):
            p.send(topic, value=b"quiet-%d" % i, partition=0)
        p.flush(10)
        self.assertEqual(self.settled_offsets(topic), (5, 5))
        p.send(topic, value=b"later", partition=0).get(timeout=10)
        p.close(5)
        recs = read_partition(self.bootstrap, topic, 0)
        self.assertEqual([(r.offset, r.value) for r in recs], [(5, b"later")])

    def test_retention_bytes(self):
        topic = "cfg_retention_bytes"
        create_topic(self.bootstrap, topic, configs={"retention.bytes": "20000", "segment.bytes": "16384"})
        p = producer(self.bootstrap, acks="all", linger_ms=0, batch_size=2048)
        for i in range(400):
            p.send(topic, value=b"%04d-" % i + b"y" * 200, partition=0)
        p.flush(10)
        p.close(5)
        start, end = self.settled_offsets(topic)
        self.assertEqual(end, 400)
        self.assertGreater(start, 0, "retention.bytes deleted nothing")
        self.assertGreaterEqual(end - start, 20000 // 300 - 1, "retention.bytes deleted too much")

    def test_log_append_time(self):
        topic = "cfg_logappend"
        create_topic(self.bootstrap, topic, configs={"message.timestamp.type": "LogAppendTime"})
        p = producer(self.bootstrap, acks="all")
        before = int(time.time() * 1000)
        m = p.send(topic, value=b"x", timestamp_ms=1000, partition=0).get(10)
        after = int(time.time() * 1000)
        p.close(5)
        self.assertTrue(before - 1000 <= m.timestamp <= after + 1000, "produce response log_append_time %d" % m.timestamp)
        [rec] = read_partition(self.bootstrap, topic, 0)
        self.assertEqual(rec.timestamp_type, 1)  # LogAppendTime
        self.assertTrue(before - 1000 <= rec.timestamp <= after + 1000, rec.timestamp)

    def test_alter_max_message_bytes(self):
        topic = "cfg_alter"
        create_topic(self.bootstrap, topic)
        a = admin(self.bootstrap)
        try:
            resp = a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                   configs={"max.message.bytes": "2000"})])
            self.assertEqual([r[0] for r in resp.resources], [0])
        finally:
            a.close()
        p = producer(self.bootstrap, acks=1, linger_ms=0)
        try:
            with self.assertRaises(Errors.MessageSizeTooLargeError):
                p.send(topic, value=b"z" * 5000, partition=0).get(10)
            self.assertEqual(p.send(topic, value=b"small", partition=0).get(10).offset, 0)
        finally:
            p.close(5)


if __name__ == "__main__":
    unittest.main()
