"""compression.type on a topic: the broker stores every produced batch in the
topic's codec, recompressing those that arrive in another one (Kafka's
LogValidator), records unchanged; with "producer" it keeps the producer's.
Produced uncompressed and zstd with librdkafka (confluent-kafka) and gzip with
kafka-python, read back with librdkafka (confluent-kafka and kcat; this
kafka-python has only gzip, so it reads the uncompressed and gzip topics), and
the stored codec checked in the raw Fetch response's batch attributes."""
import struct
import subprocess
import unittest

import kproto
from confluent_kafka import Consumer, Producer, TopicPartition

from helpers import BrokerTestCase, create_topic, producer, read_partition

CODECS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_codecs(port, topic):
    """The codec of each batch partition 0 of `topic` holds, from a raw Fetch."""
    conn = kproto.Conn(port)
    try:
        conn.send(kproto.fetch_v4(1, topic, 0, 0, max_bytes=8 << 20, isolation_level=0))
        _, parts = kproto.parse_fetch_v4(conn.recv_frame())
    finally:
        conn.close()
    records, out, o = parts[0]["records"] or b"", [], 0
    while o + 61 <= len(records):
        length = struct.unpack_from(">i", records, o + 8)[0]
        if o + 12 + length > len(records):
            break
        out.append(struct.unpack_from(">h", records, o + 21)[0] & 7)
        o += 12 + length
    return out


class TopicCompressionTest(BrokerTestCase):
    def produce(self, topic, compression, n, tag):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "compression.type": compression,
                      "linger.ms": 20})
        for i in range(n):
            p.produce(topic, key=b"k%d" % i, value=(b"%s-%04d-" % (tag, i)) + b"v" * 300, partition=0)
        self.assertEqual(p.flush(20), 0)

    def produce_gzip(self, topic, n, tag):
        p = producer(self.bootstrap, acks="all", compression_type="gzip", linger_ms=20)
        for i in range(n):
            p.send(topic, key=b"k%d" % i, value=(b"%s-%04d-" % (tag, i)) + b"v" * 300, partition=0)
        p.flush(10)
        p.close(5)

    def consume(self, topic, n):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "cmp-reader", "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            values = []
            for _ in range(200):
                for m in c.consume(100, 0.2):
                    if not m.error():
                        values.append(m.value())
                if len(values) >= n:
                    break
            return values
        finally:
            c.close()

    def test_batches_stored_in_the_topic_codec(self):
        for name, codec in CODECS.items():
            with self.subTest(topic_codec=name):
                topic = "cmp-" + name
                create_topic(self.bootstrap, topic, configs={"compression.type": name})
                # Sent uncompressed, then zstd, then gzip.
                self.produce(topic, "none", 50, b"plain")
                self.produce(topic, "zstd", 50, b"zs")
                self.produce_gzip(topic, 50, b"gz")
                codecs = stored_codecs(self.broker.port, topic)
                self.assertTrue(codecs)
                self.assertEqual(set(codecs), {codec}, codecs)
                want = [(b"%s-%04d-" % (tag, i)) + b"v" * 300 for tag in (b"plain", b"zs", b"gz") for i in range(50)]
                self.assertEqual(self.consume(topic, 150), want)
                if name in ("uncompressed", "gzip"):  # codecs this kafka-python reads
                    self.assertEqual([r.value for r in read_partition(self.bootstrap, topic, 0)], want)
                out = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                                      "-e", "-q", "-f", "%k %o\\n"], capture_output=True, text=True, timeout=60)
                self.assertEqual(len(out.stdout.splitlines()), 150, out.stderr)
                self.assertEqual(out.stdout.splitlines()[-1], "k49 149")

    def test_producer_keeps_what_was_sent(self):
        create_topic(self.bootstrap, "cmp-producer")
        self.produce("cmp-producer", "zstd", 20, b"a")
        self.produce("cmp-producer", "none", 20, b"b")
        self.produce_gzip("cmp-producer", 20, b"c")
        codecs = stored_codecs(self.broker.port, "cmp-producer")
        self.assertEqual((codecs[0], codecs[-1]), (4, 1), codecs)
        self.assertIn(0, codecs)

    def test_levels_accepted(self):
        create_topic(self.bootstrap, "cmp-zstd-19", configs={"compression.type": "zstd",
                                                              "compression.zstd.level": "19"})
        self.produce("cmp-zstd-19", "snappy", 30, b"z")
        self.assertEqual(set(stored_codecs(self.broker.port, "cmp-zstd-19")), {4})
        self.assertEqual(len(self.consume("cmp-zstd-19", 30)), 30)


if __name__ == "__main__":
    unittest.main()
