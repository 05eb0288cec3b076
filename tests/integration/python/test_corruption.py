"""Torn writes and bit flips in the files of a crashed broker (issue 11).

After a kill -9 the broker recovers what lies past its recovery point: it
reads every batch, checks its CRC, and cuts the log at the first torn or
corrupt one, saying so in its log. Here the tail segment of a partition is
torn (cut mid-batch) or has a byte flipped, and its index files are filled
with garbage; the broker must start, serve every record it still has at the
offset it was written to with the value written there (never a wrong one),
and take new records after the cut. Segments below the recovery point were
synced and are trusted, as Kafka trusts them (a client that checks CRCs,
such as the Java consumer, finds a flip there)."""
import os
import random
import unittest

from broker import Broker
from helpers import create_topic, producer, read_partition

TOPIC = "flaky"
RECORDS = 3000
SEED = int(os.environ.get("CORRUPTION_SEED", "1201"))


def value(i):
    return b"v-%06d-" % i + b"x" * 200


class CorruptionTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(sets={"num.partitions": 1, "log.segment.bytes": 262144}).start()
        create_topic(self.broker.bootstrap, TOPIC, 1)
        p = producer(self.broker.bootstrap, acks="all", linger_ms=5)
        # acks=all: each batch is synced, so nothing is lost to the kill itself
        futures = [p.send(TOPIC, value=value(i), partition=0) for i in range(RECORDS)]
        self.offsets = {f.get(timeout=30).offset: value(i) for i, f in enumerate(futures)}
        p.close()
        self.broker.kill9()
        self.dir = os.path.join(self.broker.data_dir, "%s-0" % TOPIC)
        self.rng = random.Random(SEED)

    def tearDown(self):
        self.broker.cleanup()

    def tail_segment(self):
        base = max(f for f in os.listdir(self.dir) if f.endswith(".log"))
        return os.path.join(self.dir, base), base[:-4]

    def garble_indexes(self, base):
        for ext in (".index", ".timeindex"):
            path = os.path.join(self.dir, base + ext)
            if os.path.exists(path):
                size = max(os.path.getsize(path), 4096)
                with open(path, "r+b") as f:
                    f.write(bytes(self.rng.randrange(256) for _ in range(size)))

    def check_after_restart(self):
        self.broker.restart()
        records = read_partition(self.broker.bootstrap, TOPIC, 0)
        offsets = [r.offset for r in records]
        self.assertEqual(offsets, list(range(len(records))), "offsets are not dense from 0 after recovery")
        for r in records:
            self.assertEqual(r.value, self.offsets.get(r.offset), "a wrong record at offset %d" % r.offset)
        self.assertLess(len(records), RECORDS, "nothing was cut: the damage went unnoticed")
        self.assertGreater(len(records), 0)
        self.assertIn("recovery after an unclean stop cut", self.broker.log())
        # The log goes on after the cut.
        p = producer(self.broker.bootstrap, acks="all")
        meta = p.send(TOPIC, value=b"after", partition=0).get(timeout=20)
        p.close()
        self.assertEqual(meta.offset, len(records))
        return len(records)

    def test_torn_tail_is_cut_at_the_last_whole_batch(self):
        path, base = self.tail_segment()
        size = os.path.getsize(path)
        self.assertGreater(size, 1000)
        with open(path, "r+b") as f:
            f.truncate(self.rng.randrange(size // 2, size - 10))
        self.garble_indexes(base)
        self.check_after_restart()

    def test_flipped_byte_cuts_at_the_damaged_batch(self):
        path, base = self.tail_segment()
        size = os.path.getsize(path)
        at = self.rng.randrange(size // 4, size - 100)
        with open(path, "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ (1 << self.rng.randrange(8))]))
        self.garble_indexes(base)
        kept = self.check_after_restart()
        # Everything before the damaged batch is still there.
        seg_base = int(base)
        self.assertGreaterEqual(kept, seg_base)


if __name__ == "__main__":
    unittest.main()
