"""A producer's connection moves to the shard that owns its partitions
(server/connection.h): after 32 Produce requests in a row to one other shard's
partitions (twice as many for each move after) it stops reading, answers what
is in flight and continues on that shard. Nothing may be lost, duplicated or
reordered on the way, whether the producer waits for each answer or keeps
requests in flight.

The broker runs two shards. A partition's shard is FNV-1a of the topic name
plus the partition, modulo the shard count (cluster/partition_manager.cc), so
the test picks one topic on each shard; a producer that alternates between
them must move whichever shard its connection was accepted on.
"""
import unittest

from confluent_kafka import Producer

from broker import Broker, free_port, metric
from helpers import create_topic, read_partition

SHARDS = 2


def shard_of(topic, partition=0):
    h = 1469598103934665603
    for c in topic.encode():
        h = ((h ^ c) * 1099511628211) % (1 << 64)
    return (h + partition) % (1 << 64) % SHARDS


def topic_on(shard, prefix):
    for i in range(1000):
        name = "%s-%d" % (prefix, i)
        if shard_of(name) == shard:
            return name
    raise AssertionError("no topic name found for shard %d" % shard)


class ConnectionMoveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.broker = Broker(sets={"runnel.shards": SHARDS, "num.partitions": 1,
                                  "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        cls.bootstrap = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def moved(self):
        value = metric(self.admin_port, "runnel_connections_moved_total")
        self.assertIsNotNone(value, "/metrics has no runnel_connections_moved_total")
        return value

    def two_topics(self, prefix):
        """A topic on each shard, created."""
        a, b = topic_on(0, prefix + "-a"), topic_on(1, prefix + "-b")
        for t in (a, b):
            create_topic(self.bootstrap, t)
        return a, b

    def check_delivered(self, sent, errors, moved_before, min_moves):
        """No delivery failed, the connection moved at least `min_moves`
        times, and each topic holds exactly what was sent to it, in order,
        at offsets 0, 1, 2, ..."""
        self.assertEqual(errors, [])
        self.assertGreaterEqual(self.moved() - moved_before, min_moves)
        for topic, values in sent.items():
            records = read_partition(self.bootstrap, topic, 0)
            self.assertEqual([r.offset for r in records], list(range(len(values))), topic)
            self.assertEqual([r.value for r in records], values, topic)
        self.assertTrue(self.broker.alive())

    def test_one_request_at_a_time(self):
        a, b = self.two_topics("move-seq")
        before = self.moved()
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 0})
        sent = {a: [], b: []}
        errors = []

        def delivered(err, msg):
            if err is not None:
                errors.append(err)

        # 100 to a, 100 to b, 100 to a, each answered before the next: the
        # connection starts on one of the two shards, so it moves at least
        # twice (to b's shard after 32, then back to a's after 64).
        for topic in (a, b, a):
            for i in range(100):
                value = ("%s-%d" % (topic, len(sent[topic]))).encode()
                p.produce(topic, value, callback=delivered)
                sent[topic].append(value)
                self.assertEqual(p.flush(10), 0)
        self.check_delivered(sent, errors, before, 2)

    def test_requests_in_flight_while_moving(self):
        a, b = self.two_topics("move-pipe")
        before = self.moved()
        # Idempotent: the broker checks every batch's sequence, so a request
        # lost, repeated or reordered by a move fails the producer.
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 1,
                      "enable.idempotence": True, "batch.num.messages": 50,
                      "max.in.flight.requests.per.connection": 5})
        sent = {a: [], b: []}
        errors = []

        def delivered(err, msg):
            if err is not None:
                errors.append(err)

        for phase, topic in enumerate((a, b, a, b)):
            for i in range(3000):
                value = ("%d-%s-%d" % (phase, topic, i)).encode()
                while True:
                    try:
                        p.produce(topic, value, callback=delivered)
                        break
                    except BufferError:
                        p.poll(0.05)
                sent[topic].append(value)
                p.poll(0)
            # Each phase delivered before the next: a request that named both
            # topics (both shards) would, rightly, not count towards a move.
            # Within a phase up to five requests are in flight when it moves.
            self.assertEqual(p.flush(30), 0)
        self.check_delivered(sent, errors, before, 1)


if __name__ == "__main__":
    unittest.main()
