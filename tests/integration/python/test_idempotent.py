"""Idempotent producers (KIP-98, KIP-360) against the real broker.

- InitProducerId: ids unique, also across a kill -9 (blocks reserved durably);
  a transactional id gets its id from the transaction coordinator, the epoch
  bumped at each call (test_transactions.py has the rest).
- Produce with producer ids, raw: a retried batch answered with its original
  offset and not stored twice, also after kill -9 (state rebuilt from the log)
  and after a clean restart (from the snapshot); gaps and stale epochs refused.
- confluent-kafka (librdkafka) with enable.idempotence=True, acks=all: a
  numbered stream produced while the broker is killed -9 and restarted twice:
  everything delivered, no duplicates, no gaps, in order per partition.
- `runnel producers list|describe` shows the producer DescribeProducers does.
"""
import os
import struct
import subprocess
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition

import kproto
from broker import Broker
from helpers import create_topic, read_partition

NONE, COORDINATOR_NOT_AVAILABLE, OUT_OF_ORDER, INVALID_EPOCH = 0, 15, 45, 47


def init_producer_id(port, transactional_id=None, cid=1):
    c = kproto.Conn(port)
    try:
        body = kproto.header_v1(22, 1, cid) + kproto.string(transactional_id) + kproto.i32(60000)
        c.send(kproto.frame(body))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == cid
        r.i32()  # throttle
        return r.i16(), r.i64(), r.i16()  # error, producer id, epoch
    finally:
        c.close()


def idem_batch(pid, epoch, seq, values):
    recs = b"".join(kproto.record(i, None, v) for i, v in enumerate(values))
    ts = int(time.time() * 1000)
    return kproto.batch_v2(recs, len(values), ts, ts, producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def produce(port, topic, batch, cid=7):
    c = kproto.Conn(port)
    try:
        c.send(kproto.produce(cid, topic, 0, batch))
        _, parts = kproto.parse_produce_v8(c.recv_frame())
        return parts[0]["error"], parts[0]["base_offset"]
    finally:
        c.close()


def uvarint(r):
    shift = value = 0
    while True:
        b = r.take(1)[0]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value


def describe_producers(port, topic, partition, cid=3):
    """DescribeProducers v0 (flexible) -> (error, [(producer id, epoch, last sequence)])."""
    c = kproto.Conn(port)
    try:
        name = topic.encode()
        body = (kproto.i16(61) + kproto.i16(0) + kproto.i32(cid) + kproto.string("runnel-it") + b"\x00"
                + b"\x02" + bytes([len(name) + 1]) + name + b"\x02" + kproto.i32(partition) + b"\x00" + b"\x00")
        c.send(kproto.frame(body))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == cid
        assert uvarint(r) == 0  # header tags
        r.i32()  # throttle
        assert uvarint(r) == 2  # one topic
        r.take(uvarint(r) - 1)
        assert uvarint(r) == 2  # one partition
        assert r.i32() == partition
        error = r.i16()
        n = uvarint(r)
        if n:
            r.take(n - 1)
        producers = []
        for _ in range(uvarint(r) - 1):
            pid, epoch, last_seq = r.i64(), r.i32(), r.i32()
            r.i64(), r.i32(), r.i64()
            assert uvarint(r) == 0
            producers.append((pid, epoch, last_seq))
        return error, producers
    finally:
        c.close()


class InitProducerIdTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def test_ids_unique_across_kill9(self):
        seen = []
        for i in range(5):
            err, pid, epoch = init_producer_id(self.broker.port, cid=i + 1)
            self.assertEqual((err, epoch), (NONE, 0))
            seen.append(pid)
        self.assertEqual(len(set(seen)), 5)
        self.broker.kill9()
        self.broker.restart()
        err, pid, _ = init_producer_id(self.broker.port)
        self.assertEqual(err, NONE)
        self.assertGreater(pid, max(seen))
        self.broker.stop()
        self.broker.restart()
        err, pid2, _ = init_producer_id(self.broker.port)
        self.assertEqual(err, NONE)
        self.assertGreater(pid2, pid)

    def test_transactional_id_bumps_epoch(self):
        err, pid, epoch = init_producer_id(self.broker.port, transactional_id="txn-1")
        self.assertEqual((err, epoch), (NONE, 0))
        self.assertGreaterEqual(pid, 0)
        err, pid2, epoch2 = init_producer_id(self.broker.port, transactional_id="txn-1")
        self.assertEqual((err, pid2, epoch2), (NONE, pid, 1))


class RawSequenceTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()

    def tearDown(self):
        self.broker.cleanup()

    def end_offset(self, topic):
        recs = read_partition(self.broker.bootstrap, topic, 0)
        return len(recs)

    def test_duplicates_gaps_epochs_and_restarts(self):
        topic = "idem-raw"
        create_topic(self.broker.bootstrap, topic, 1)
        port = self.broker.port
        _, pid, epoch = init_producer_id(port)
        b0 = idem_batch(pid, epoch, 0, [b"a", b"b"])
        b1 = idem_batch(pid, epoch, 2, [b"c"])
        self.assertEqual(produce(port, topic, b0), (NONE, 0))
        self.assertEqual(produce(port, topic, b1), (NONE, 2))
        # A retry: its original offset, nothing stored.
        self.assertEqual(produce(port, topic, b0), (NONE, 0))
        self.assertEqual(produce(port, topic, b1), (NONE, 2))
        # A gap.
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch, 5, [b"x"]))[0], OUT_OF_ORDER)
        # A new epoch must start at 0; then the old one is stale.
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch + 1, 3, [b"x"]))[0], OUT_OF_ORDER)
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch + 1, 0, [b"d"])), (NONE, 3))
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch, 3, [b"x"]))[0], INVALID_EPOCH)

        # kill -9: the state comes back from the log.
        b2 = idem_batch(pid, epoch + 1, 1, [b"e", b"f"])
        self.assertEqual(produce(port, topic, b2), (NONE, 4))
        self.broker.kill9()
        self.broker.restart()
        self.assertEqual(produce(port, topic, b2), (NONE, 4))
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch + 1, 4, [b"x"]))[0], OUT_OF_ORDER)
        b3 = idem_batch(pid, epoch + 1, 3, [b"g"])
        self.assertEqual(produce(port, topic, b3), (NONE, 6))

        # A clean restart: from the snapshot.
        self.broker.stop()
        self.broker.restart()
        self.assertEqual(produce(port, topic, b3), (NONE, 6))
        self.assertEqual(produce(port, topic, b2), (NONE, 4))
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch, 9, [b"x"]))[0], INVALID_EPOCH)
        self.assertEqual(produce(port, topic, idem_batch(pid, epoch + 1, 4, [b"h"])), (NONE, 7))

        self.assertEqual(describe_producers(port, topic, 0), (NONE, [(pid, epoch + 1, 4)]))
        # The CLI: the same producer, its epoch and last sequence, in a table.
        boot = self.broker.bootstrap
        for args in (["describe", topic, "--partition", "0"], ["list", "--topic", topic], ["list"]):
            r = subprocess.run([os.environ["RUNNEL_BIN"], "producers"] + args + ["--bootstrap", boot],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0].split()[:4], ["TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH"])
            self.assertIn([topic, "0", str(pid), str(epoch + 1), "4"], [l.split()[:5] for l in lines[1:]])
        for args in (["describe", "no-such-topic"], ["describe", topic, "--partition", "7"]):
            r = subprocess.run([os.environ["RUNNEL_BIN"], "producers"] + args + ["--bootstrap", boot],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("Error:", r.stderr)
        values = [r.value for r in read_partition(self.broker.bootstrap, topic, 0)]
        self.assertEqual(values, [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"])


class ConfluentIdempotentKill9Test(unittest.TestCase):
    PARTITIONS = 3
    COUNT = 6000

    def setUp(self):
        self.broker = Broker(sets={"num.partitions": self.PARTITIONS, "log.segment.bytes": 65536}).start()

    def tearDown(self):
        self.broker.cleanup()

    def test_no_duplicates_no_gaps_through_kill9(self):
        topic = "idem-stream"
        create_topic(self.broker.bootstrap, topic, self.PARTITIONS)
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 2, "message.timeout.ms": 120000, "retry.backoff.ms": 100,
                      "reconnect.backoff.max.ms": 500, "max.in.flight.requests.per.connection": 5,
                      "batch.num.messages": 50})
        delivered, failed = [], []
        lock = threading.Lock()

        def report(err, msg):
            with lock:
                (failed if err else delivered).append((err, msg.partition(), msg.offset(), msg.value()))

        kills = {self.COUNT // 3, 2 * self.COUNT // 3}
        for i in range(self.COUNT):
            if i in kills:
                # Mid-stream, with batches in flight: no warning at all.
                self.broker.kill9()
                time.sleep(0.3)
                self.broker.restart()
            while True:
                try:
                    p.produce(topic, value=b"%08d" % i, partition=i % self.PARTITIONS, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
            if i % 100 == 0:
                time.sleep(0.005)
        left = p.flush(90)
        self.assertEqual(left, 0, "records still undelivered")
        self.assertEqual([f[0] for f in failed[:5]], [], "%d records failed" % len(failed))
        self.assertEqual(len(delivered), self.COUNT)

        for part in range(self.PARTITIONS):
            recs = read_partition(self.broker.bootstrap, topic, part, timeout=30)
            seqs = [int(r.value) for r in recs]
            want = list(range(part, self.COUNT, self.PARTITIONS))
            dups = len(seqs) - len(set(seqs))
            self.assertEqual(dups, 0, "partition %d: %d duplicates" % (part, dups))
            self.assertEqual(seqs, want, "partition %d: gaps or reordering" % part)
            self.assertEqual([r.offset for r in recs], list(range(len(recs))))
        # Each delivery report names where the record is.
        for _, part, offset, value in delivered:
            self.assertEqual(int(value) % self.PARTITIONS, part)
        print("\n  %d records, %d delivery reports, broker killed twice" % (self.COUNT, len(delivered)))


if __name__ == "__main__":
    unittest.main()
