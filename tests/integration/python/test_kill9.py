"""Crash durability: produce with acks=all under load, SIGKILL the broker mid-way,
restart it on the same data dir, and check that every acknowledged record is
present exactly once, at its acknowledged offset, in order per partition."""
import threading
import time
import unittest

from kafka import errors as Errors

from broker import Broker
from helpers import create_topic, producer, read_partition

TOPIC = "durable"
PARTITIONS = 3


class Kill9DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(sets={"num.partitions": PARTITIONS, "log.segment.bytes": 65536}).start()

    def tearDown(self):
        self.broker.cleanup()

    def _produce_under_load(self, duration, kill_at, stats):
        p = producer(self.broker.bootstrap, acks="all", retries=0, linger_ms=2, max_block_ms=1000,
                     request_timeout_ms=2000, max_in_flight_requests_per_connection=5)
        acked, failed = stats["acked"], stats["failed"]
        lock = threading.Lock()

        def on_ok(seq, meta):
            with lock:
                acked.append((meta.partition, meta.offset, seq))

        def on_err(seq, exc):
            with lock:
                failed.append((seq, repr(exc)))

        start = time.time()
        killed = False
        seq = 0
        while time.time() - start < duration:
            if not killed and time.time() - start >= kill_at:
                self.broker.kill9()
                stats["acked_before_kill"] = len(acked)
                killed = True
                self.broker.restart()
            try:
                f = p.send(TOPIC, value=b"%08d" % seq, partition=seq % PARTITIONS)
                f.add_callback(on_ok, seq).add_errback(on_err, seq)
            except Errors.KafkaError as e:  # buffer full / metadata timeout while the broker is down
                failed.append((seq, repr(e)))
            seq += 1
            if seq % 50 == 0:
                time.sleep(0.01)  # about 5,000 records/s: load, but a quick read-back
        try:
            p.flush(10)
        except Errors.KafkaError:
            pass
        p.close(5)
        stats["sent"] = seq

    def test_acked_records_survive_kill9(self):
        create_topic(self.broker.bootstrap, TOPIC, PARTITIONS)
        stats = {"acked": [], "failed": []}
        self._produce_under_load(duration=3.0, kill_at=1.2, stats=stats)
        acked = stats["acked"]
        print("\n  sent %d, acked %d (%d before the kill), failed %d"
              % (stats["sent"], len(acked), stats.get("acked_before_kill", -1), len(stats["failed"])))
        self.assertGreater(stats.get("acked_before_kill", 0), 100, "too few records acknowledged before the kill")
        # Kill once more without any warning, after the load, to check recovery of a quiet log too.
        self.broker.kill9()
        self.broker.restart()

        by_partition = {p: read_partition(self.broker.bootstrap, TOPIC, p, timeout=30) for p in range(PARTITIONS)}
        stored = {}  # seq -> (partition, offset)
        for p, recs in by_partition.items():
            offsets = [r.offset for r in recs]
            self.assertEqual(offsets, list(range(len(recs))), "partition %d offsets must be dense from 0" % p)
            seqs = [int(r.value) for r in recs]
            self.assertEqual(seqs, sorted(seqs), "partition %d out of order" % p)
            for r, s in zip(recs, seqs):
                self.assertEqual(s % PARTITIONS, p, "record %d in the wrong partition" % s)
                self.assertNotIn(s, stored, "record %d stored twice" % s)
                stored[s] = (p, r.offset)
        missing = [(p, o, s) for p, o, s in acked if s not in stored]
        self.assertEqual(missing[:10], [], "%d acknowledged records lost" % len(missing))
        moved = [(p, o, s, stored[s]) for p, o, s in acked if stored[s] != (p, o)]
        self.assertEqual(moved[:10], [], "acknowledged records found at other offsets")

        # the log accepts appends after recovery, at the next offset
        p = producer(self.broker.bootstrap, acks="all")
        m = p.send(TOPIC, value=b"after", partition=0).get(10)
        p.close(5)
        self.assertEqual(m.offset, len(by_partition[0]))
        self.assertTrue(self.broker.alive())


if __name__ == "__main__":
    unittest.main()
