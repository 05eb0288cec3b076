"""Many partitions within few descriptors (issue 17): the broker runs under
`prlimit --nofile=512:512`, takes 1,000 partitions (several segments each),
serves produce and fetch to all of them, restarts cleanly, and refuses a
creation past runnel.max.partitions with POLICY_VIOLATION, leaving nothing
half-created behind."""
import os
import threading
import time
import unittest

from kafka import TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import PolicyViolationError

from broker import Broker
from helpers import admin, consumer, producer

NOFILE = 512
TOPICS = 10
PER_TOPIC = 100
ROUNDS = 3
LIMIT = 1100


def topic(i):
    return "many-%d" % i


class ManyPartitionsTest(unittest.TestCase):
    def setUp(self):
        # Tiny segments: every round of produce rolls a segment, so the broker
        # holds ~3,000 segments (9,000 files) under a 512-descriptor limit.
        self.broker = Broker(sets={"runnel.max.partitions": LIMIT, "log.segment.bytes": 100},
                             wrapper=["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"]).start()

    def tearDown(self):
        self.broker.cleanup()

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.broker.proc.pid))

    def produce_round(self, r):
        p = producer(self.broker.bootstrap, acks="all", linger_ms=20)
        futures = [p.send(topic(t), value=b"r%d-%d-%d" % (r, t, part), partition=part)
                   for t in range(TOPICS) for part in range(PER_TOPIC)]
        p.flush(60)
        for f in futures:
            f.get(timeout=30)
        p.close()

    def consume_all(self):
        """Every record of every partition, and the most descriptors the broker
        held meanwhile (sampled every 5 ms)."""
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], self.fds())
                except OSError:
                    pass
                done.wait(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            return self.fetch_all(), peak[0]
        finally:
            done.set()
            sampler.join()

    def fetch_all(self):
        c = consumer(self.broker.bootstrap, max_partition_fetch_bytes=4096, fetch_max_bytes=1 << 20)
        tps = [TopicPartition(topic(t), part) for t in range(TOPICS) for part in range(PER_TOPIC)]
        c.assign(tps)
        for tp in tps:
            c.seek(tp, 0)
        got = {}
        deadline = time.time() + 40
        while sum(len(v) for v in got.values()) < len(tps) * ROUNDS and time.time() < deadline:
            for tp, recs in c.poll(timeout_ms=500).items():
                got.setdefault(tp, []).extend(r.value for r in recs)
        c.close()
        return got

    def test_thousand_partitions_under_512_descriptors(self):
        # Creating 1,000 partitions syncs each one's directory: on a loaded
        # machine (make test runs two suites at a time) that can take more
        # than kafka-python's default 10 s request timeout.
        a = admin(self.broker.bootstrap, request_timeout_ms=60000)
        a.create_topics([NewTopic(topic(t), PER_TOPIC, 1) for t in range(TOPICS)], timeout_ms=30000)
        for r in range(ROUNDS):
            self.produce_round(r)
        self.assertTrue(self.broker.alive())
        self.assertLess(self.fds(), NOFILE)

        # Past the limit: refused whole, nothing of it left behind.
        with self.assertRaises(PolicyViolationError):
            a.create_topics([NewTopic("one-too-many", 200, 1)], timeout_ms=30000)
        with self.assertRaises(PolicyViolationError):
            a.create_partitions({topic(0): NewPartitions(PER_TOPIC + 200)})
        self.assertNotIn("one-too-many", a.list_topics())
        self.assertFalse(any(d.startswith("one-too-many-") for d in os.listdir(self.broker.data_dir)))
        # What fits is still taken.
        a.create_topics([NewTopic("fits", 50, 1)], timeout_ms=30000)
        a.close()

        # A clean restart, then every record back.
        self.assertEqual(self.broker.stop(), 0)
        self.assertIn("closed", self.broker.log())
        self.broker.restart()
        self.assertNotIn("offline", self.broker.log())
        got, peak = self.consume_all()
        # A Fetch over 1,000 partitions holds a descriptor per segment read
        # until its response is written: those are bounded too, so the broker
        # never reaches the limit (it did, and then kept 511 open).
        self.assertLess(peak, NOFILE - 32)
        for t in range(TOPICS):
            for part in range(PER_TOPIC):
                want = [b"r%d-%d-%d" % (r, t, part) for r in range(ROUNDS)]
                self.assertEqual(got.get(TopicPartition(topic(t), part)), want, (t, part))
        self.assertLess(self.fds(), NOFILE)

        # After a crash too: recovery of 1,000 partitions within the limit.
        self.broker.kill9()
        self.broker.restart()
        self.produce_round(ROUNDS)
        self.assertTrue(self.broker.alive())


if __name__ == "__main__":
    unittest.main()
