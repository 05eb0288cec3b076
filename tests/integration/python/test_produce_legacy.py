"""Produce v0-2 with the pre-0.11 message formats (magic 0 and 1), up-converted
to record batches as Kafka 3.x does: keys, values, v1 timestamps and order
kept, a gzip wrapper opened and the batch stored gzip again, every CRC
checked (CORRUPT_MESSAGE), zstd refused (UNSUPPORTED_COMPRESSION_TYPE).
Read back with librdkafka (confluent-kafka). And the reason it matters:
librdkafka 2.0.2 (kcat) now compresses with lz4, gzip and snappy, which it
only does against a broker that lists Produce v0 (librdkafka #5130)."""
import gzip
import struct
import subprocess
import unittest
import zlib

from confluent_kafka import Consumer, TopicPartition

import kproto
from helpers import BrokerTestCase, create_topic
from test_topic_compression import stored_codecs

NONE, CORRUPT_MESSAGE, UNSUPPORTED_COMPRESSION_TYPE = 0, 2, 76


def nbytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def message(magic, key, value, timestamp=None, attributes=0, offset=0):
    body = struct.pack(">bb", magic, attributes)
    if magic == 1:
        body += struct.pack(">q", timestamp)
    body += nbytes(key) + nbytes(value)
    msg = struct.pack(">I", zlib.crc32(body) & 0xffffffff) + body
    return struct.pack(">qi", offset, len(msg)) + msg


def produce_legacy(port, version, topic, message_set, acks=-1):
    """(error, base_offset) of a Produce v0-2 for partition 0."""
    body = kproto.header_v1(0, version, 1) + struct.pack(">hi", acks, 5000)
    body += struct.pack(">i", 1) + kproto.string(topic) + struct.pack(">ii", 1, 0) + nbytes(message_set)
    conn = kproto.Conn(port)
    try:
        conn.send(kproto.frame(body))
        r = kproto.Reader(conn.recv_frame())
    finally:
        conn.close()
    r.i32()  # correlation id
    assert r.i32() == 1 and r.string() == topic and r.i32() == 1
    p, err, base = r.i32(), r.i16(), r.i64()
    assert p == 0
    if version >= 2:
        r.i64()  # log_append_time
    return err, base


class ProduceLegacyTest(BrokerTestCase):
    def read(self, topic, n):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "legacy-reader", "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            out = []
            for _ in range(100):
                out += [m for m in c.consume(100, 0.2) if not m.error()]
                if len(out) >= n:
                    break
            return [(m.offset(), m.key(), m.value(), m.timestamp()[1]) for m in out]
        finally:
            c.close()

    def test_v0_v1_v2_messages_are_stored_as_batches(self):
        create_topic(self.bootstrap, "legacy")
        port = self.broker.port
        self.assertEqual(produce_legacy(port, 0, "legacy", message(0, b"k0", b"v0") + message(0, None, b"v1")),
                         (NONE, 0))
        self.assertEqual(produce_legacy(port, 1, "legacy", message(1, b"k2", b"v2", timestamp=1700000000123)),
                         (NONE, 2))
        inner = message(1, b"k3", b"v3", timestamp=1700000000200, offset=0) + \
            message(1, b"k4", None, timestamp=1700000000300, offset=1)
        wrapper = message(1, None, gzip.compress(inner), timestamp=1700000000300, attributes=1, offset=1)
        self.assertEqual(produce_legacy(port, 2, "legacy", wrapper), (NONE, 3))
        got = self.read("legacy", 5)
        self.assertEqual([g[:3] for g in got], [(0, b"k0", b"v0"), (1, None, b"v1"), (2, b"k2", b"v2"),
                                                (3, b"k3", b"v3"), (4, b"k4", None)])
        self.assertEqual([g[3] for g in got[2:]], [1700000000123, 1700000000200, 1700000000300])
        # Three batches; the gzip wrapper's records stored gzip-compressed.
        self.assertEqual(stored_codecs(port, "legacy"), [0, 0, 1])

    def test_bad_messages_refused_and_nothing_stored(self):
        create_topic(self.bootstrap, "legacy-bad")
        port = self.broker.port
        good = message(1, b"k", b"v", timestamp=1700000000000)
        corrupt = good[:-1] + bytes([good[-1] ^ 1])
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", corrupt)[0], CORRUPT_MESSAGE)
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", good[:-3])[0], CORRUPT_MESSAGE)
        zstd_wrapper = message(1, None, b"\x28\xb5\x2f\xfd", timestamp=0, attributes=4)
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", zstd_wrapper)[0], UNSUPPORTED_COMPRESSION_TYPE)
        not_gzip = message(1, None, b"not gzip at all", timestamp=0, attributes=1)
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", not_gzip)[0], CORRUPT_MESSAGE)
        nested = message(1, None, gzip.compress(message(1, None, gzip.compress(good), timestamp=0, attributes=1)),
                         timestamp=0, attributes=1)
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", nested)[0], CORRUPT_MESSAGE)
        self.assertEqual(stored_codecs(port, "legacy-bad"), [])
        self.assertEqual(produce_legacy(port, 2, "legacy-bad", good), (NONE, 0))

    def test_librdkafka_compresses_now(self):
        create_topic(self.bootstrap, "legacy-kcat")
        data = "\n".join("line %d " % i + "x" * 300 for i in range(20)) + "\n"
        for codec in ("lz4", "gzip", "snappy"):
            r = subprocess.run(["kcat", "-b", self.bootstrap, "-P", "-t", "legacy-kcat", "-p", "0", "-z", codec,
                                "-X", "linger.ms=50"], input=data, text=True, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stored_codecs(self.broker.port, "legacy-kcat"), [3, 1, 2])
        self.assertEqual(len(self.read("legacy-kcat", 60)), 60)


if __name__ == "__main__":
    unittest.main()
