"""Log compaction (cleanup.policy=compact) against the real broker: keyed
updates and tombstones are produced with kafka-python, the cleaner thread
compacts the closed segments, and a fresh consumer then sees exactly the
latest value of every key, no expired tombstone, offsets increasing. Then
kill -9 lands while the cleaner is rewriting segments (a `.cleaned` file is
on disk), several times over; after every restart the latest value of every
key is still there, and once the cleaner finishes the log is compacted.
A compacted topic refuses records without a key (INVALID_RECORD)."""
import os
import time
import unittest

from kafka import errors as Errors

import kproto
from broker import Broker
from helpers import consumer, create_topic, producer

KEYS = 20
DELETED = 5  # k0..k4 end with a tombstone


def read_all(bootstrap, topic, timeout=20.0):
    """Every record of partition 0, read by a fresh consumer up to the end offset."""
    from kafka import TopicPartition
    c = consumer(bootstrap)
    tp = TopicPartition(topic, 0)
    try:
        c.assign([tp])
        end = c.end_offsets([tp])[tp]
        c.seek_to_beginning(tp)
        out = []
        deadline = time.time() + timeout
        # The last record is in the active segment, which is never cleaned,
        # so reading stops on a record, not in a gap.
        while not out or out[-1].offset < end - 1:
            if time.time() > deadline:
                raise AssertionError("timed out reading %s: %d records, last %r, end %d"
                                     % (topic, len(out), out[-1].offset if out else None, end))
            for recs in c.poll(timeout_ms=200).values():
                out.extend(recs)
        return out
    finally:
        c.close()


def produce_history(bootstrap, topic, rounds, value_size=40, filler=12):
    """rounds x KEYS keyed updates, tombstones for the first DELETED keys, and
    unique filler keys so that all of it lies in closed segments. Returns the
    expected latest value per key (None: deleted)."""
    # Small batches: one append may not exceed segment.bytes (Kafka's
    # RecordBatchTooLargeException).
    p = producer(bootstrap, acks=1, linger_ms=0, batch_size=400)
    latest = {}
    futures = []
    for r in range(rounds):
        for k in range(KEYS):
            key = b"k%d" % k
            value = (b"v%d-%d-" % (r, k)).ljust(value_size, b".")
            futures.append(p.send(topic, key=key, value=value))
            latest[key] = value
        p.flush()
    for k in range(DELETED):
        futures.append(p.send(topic, key=b"k%d" % k, value=None))
        latest[b"k%d" % k] = None
    p.flush()
    for i in range(filler):
        futures.append(p.send(topic, key=b"filler-%d" % i, value=b"f" * 100))
        p.flush()
    for f in futures:
        f.get(timeout=10)
    p.close(5)
    return latest


def check_latest(test, records, latest, compacted):
    """Offsets increase; the last record of every key is its latest value;
    when `compacted`, every key has one record and deleted keys none."""
    last = {}
    count = {}
    previous = -1
    for r in records:
        test.assertGreater(r.offset, previous)
        previous = r.offset
        last[r.key] = r.value
        count[r.key] = count.get(r.key, 0) + 1
    for key, value in latest.items():
        if value is None:
            test.assertTrue(key not in last or last[key] is None, key)
        else:
            test.assertEqual(last.get(key), value, key)
    if compacted:
        for key, value in latest.items():
            if value is None:
                test.assertNotIn(key, last, "tombstone of %r not dropped" % key)
            else:
                test.assertEqual(count[key], 1, "%r has %d records" % (key, count[key]))


def compacted(records, latest):
    keys = {}
    for r in records:
        keys.setdefault(r.key, []).append(r.value)
    for key, value in latest.items():
        if value is None and key in keys:
            return False
        if value is not None and keys.get(key) != [value]:
            return False
    return True


TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.bytes": "1024", "min.cleanable.dirty.ratio": "0.01",
                 "delete.retention.ms": "1000"}


class LogCompactionTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(sets={"log.cleaner.backoff.ms": 200}).start()

    def tearDown(self):
        self.broker.cleanup()

    def test_fresh_consumer_sees_latest_value_per_key(self):
        topic = "compacted"
        create_topic(self.broker.bootstrap, topic, 1, TOPIC_CONFIGS)
        latest = produce_history(self.broker.bootstrap, topic, rounds=10)
        before = read_all(self.broker.bootstrap, topic)
        # (The cleaner may have begun already.)
        self.assertLessEqual(len(before), 10 * KEYS + DELETED + 12)
        check_latest(self, before, latest, compacted=False)
        deadline = time.time() + 60
        records = before
        while not compacted(records, latest):
            if time.time() > deadline:
                self.fail("not compacted after 60 s; %d records; log:\n%s" % (len(records), self.broker.log()))
            time.sleep(0.5)
            records = read_all(self.broker.bootstrap, topic)
        check_latest(self, records, latest, compacted=True)
        for i in range(12):
            self.assertIn(b"filler-%d" % i, [r.key for r in records])
        # A restart (clean) keeps the compacted log as it is.
        self.broker.stop()
        self.broker.restart()
        check_latest(self, read_all(self.broker.bootstrap, topic), latest, compacted=True)

    def test_consumers_read_past_a_batch_compaction_emptied(self):
        # The last batch of a producer that may still write holds its sequence
        # numbers: when compaction drops all of its records, Kafka keeps it empty
        # (and so does runnel). Both client libraries must step over it.
        from confluent_kafka import Consumer, Producer
        topic = "compacted-empty-batch"
        bootstrap = self.broker.bootstrap
        create_topic(bootstrap, topic, 1, TOPIC_CONFIGS)
        idempotent = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 0})
        idempotent.produce(topic, key=b"x", value=b"first")
        self.assertEqual(idempotent.flush(10), 0)
        p = producer(bootstrap, acks=1, linger_ms=0, batch_size=400)
        p.send(topic, key=b"x", value=b"second")
        for i in range(12):  # closes the segments that hold both
            p.send(topic, key=b"filler-%d" % i, value=b"f" * 100)
        p.flush()
        p.close(5)

        def first_batch():
            c = kproto.Conn(self.broker.port)
            try:
                c.send(kproto.fetch_v4(1, topic, 0, 0))
                return kproto.batches(kproto.parse_fetch_v4(c.recv_frame())[1][0]["records"])[:1]
            finally:
                c.close()
        deadline = time.time() + 60
        while first_batch() != [(0, 0, 0)]:
            self.assertLess(time.time(), deadline, "offset 0 not compacted into an empty batch: %r" % first_batch())
            time.sleep(0.3)
        records = read_all(bootstrap, topic)
        self.assertEqual((records[0].offset, records[0].key, records[0].value), (1, b"x", b"second"))
        self.assertEqual(records[-1].key, b"filler-11")
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "empty-batch", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        try:
            c.subscribe([topic])
            got = []
            deadline = time.time() + 30
            while len(got) < len(records) and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    got.append((m.offset(), m.key()))
            self.assertEqual(got, [(r.offset, r.key) for r in records])
        finally:
            c.close()

    def test_records_without_key_are_refused(self):
        topic = "compacted-keys"
        create_topic(self.broker.bootstrap, topic, 1, TOPIC_CONFIGS)
        p = producer(self.broker.bootstrap, acks=1, retries=0)
        try:
            with self.assertRaises(Errors.KafkaError):
                p.send(topic, value=b"no key").get(timeout=10)
            p.send(topic, key=b"k", value=b"keyed").get(timeout=10)
        finally:
            p.close(5)


class LogCompactionKill9Test(unittest.TestCase):
    """kill -9 while the cleaner writes: the cleaner is throttled so that a
    round takes seconds, and the broker is killed as soon as a `.cleaned` file
    shows up in the partition directory."""

    def setUp(self):
        self.broker = Broker(sets={"log.cleaner.backoff.ms": 100,
                                   "log.cleaner.io.max.bytes.per.second": 60000}).start()

    def tearDown(self):
        self.broker.cleanup()

    def test_kill9_during_cleaning(self):
        topic = "compacted-kill"
        configs = dict(TOPIC_CONFIGS, **{"segment.bytes": "4096"})
        create_topic(self.broker.bootstrap, topic, 1, configs)
        latest = produce_history(self.broker.bootstrap, topic, rounds=40, value_size=80, filler=60)
        pdir = os.path.join(self.broker.data_dir, topic + "-0")
        kills_mid_clean = 0
        for attempt in range(4):
            deadline = time.time() + 10
            seen = False
            while time.time() < deadline and not seen:
                seen = any(n.endswith(".cleaned") or n.endswith(".swap") for n in os.listdir(pdir))
                if not seen:
                    time.sleep(0.005)
            self.broker.kill9()
            kills_mid_clean += seen
            self.broker.restart()
            records = read_all(self.broker.bootstrap, topic)
            check_latest(self, records, latest, compacted=False)
        self.assertGreater(kills_mid_clean, 0, "no kill landed while a segment was being cleaned")
        # Unthrottled, the cleaner finishes.
        self.broker.stop()
        self.broker.sets["log.cleaner.io.max.bytes.per.second"] = 1e12
        self.broker.restart()
        deadline = time.time() + 60
        records = read_all(self.broker.bootstrap, topic)
        while not compacted(records, latest):
            if time.time() > deadline:
                self.fail("not compacted after the kills; log:\n%s" % self.broker.log())
            time.sleep(0.5)
            records = read_all(self.broker.bootstrap, topic)
        check_latest(self, records, latest, compacted=True)
        self.assertFalse([n for n in os.listdir(pdir) if n.endswith(".cleaned") or n.endswith(".swap")])


if __name__ == "__main__":
    unittest.main()
