"""Bad input over a raw socket: each case is followed by a check that the broker
still answers and that previously stored records are unchanged."""
import os
import struct
import time
import unittest

import kproto
from helpers import BrokerTestCase, create_topic, producer, read_partition

TOPIC = "malformed"


class MalformedInputTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC)
        p = producer(cls.bootstrap, acks="all")
        for i in range(5):
            p.send(TOPIC, key=b"k%d" % i, value=b"stored-%d" % i, partition=0)
        p.flush(10)
        p.close(5)
        cls.expected = [(i, b"k%d" % i, b"stored-%d" % i) for i in range(5)]

    def setUp(self):
        self.conns = []

    def conn(self):
        c = kproto.Conn(self.broker.port)
        self.conns.append(c)
        return c

    def tearDown(self):
        for c in self.conns:
            c.close()
        self.assert_healthy()

    def assert_healthy(self):
        self.assertBrokerAlive()
        c = kproto.Conn(self.broker.port)
        try:
            c.send(kproto.api_versions_v0(4242))
            corr, err, apis = kproto.parse_api_versions_v0(c.recv_frame())
            self.assertEqual((corr, err), (4242, 0))
            self.assertIn(0, apis)
        finally:
            c.close()
        recs = [(r.offset, r.key, r.value) for r in read_partition(self.bootstrap, TOPIC, 0)]
        n = len(self.expected)
        self.assertEqual(recs[:n], self.expected, "previously stored records changed")
        if len(recs) > n:
            type(self).expected = recs  # report once, not again in every later test
            self.fail("bad input appended records: %r" % (recs[n:],))

    # --- framing ---

    def test_garbage_bytes(self):
        c = self.conn()
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # length prefix 0x47455420 > any frame limit
        self.assertTrue(c.closed_by_peer(5), "broker should close a connection that sends an HTTP request")

    def test_random_body_in_valid_frame(self):
        c = self.conn()
        body = bytes([0x7f, 0x7f]) + os.urandom(60)  # api key 32639
        c.send(kproto.frame(body))
        self.assertTrue(c.closed_by_peer(5))

    def test_absurd_frame_size(self):
        c = self.conn()
        c.send(struct.pack(">I", 0x7FFFFFFF) + b"\x00" * 16)
        self.assertTrue(c.closed_by_peer(5), "0x7fffffff frame size must close the connection")

    def test_negative_frame_size(self):
        c = self.conn()
        c.send(struct.pack(">i", -1) + b"\x00" * 16)
        self.assertTrue(c.closed_by_peer(5))

    def test_zero_frame_size(self):
        c = self.conn()
        c.send(struct.pack(">i", 0))
        self.assertTrue(c.closed_by_peer(5))

    def test_truncated_header(self):
        # frame holds api key, version, correlation id and a client id whose length runs past the frame
        c = self.conn()
        c.send(kproto.frame(kproto.i16(18) + kproto.i16(0) + kproto.i32(7) + kproto.i16(100) + b"abc"))
        self.assertTrue(c.closed_by_peer(5))

    def test_truncated_produce_body(self):
        c = self.conn()
        full = kproto.produce_v3(8, TOPIC, 0, kproto.record_batch([(b"t", b"truncated")]))
        body = full[4:]
        cut = body[: len(body) - 20]
        c.send(kproto.frame(cut))  # consistent frame length, but the body ends inside the batch
        # the records field runs past the end of the frame: Kafka closes the connection
        self.assertTrue(c.closed_by_peer(5))

    def test_client_disconnects_mid_frame(self):
        c = self.conn()
        c.send(struct.pack(">i", 1000) + b"\x00" * 10)
        c.close()
        time.sleep(0.2)

    def test_negative_topic_array_length(self):
        c = self.conn()
        body = kproto.header_v1(0, 3, 9) + kproto.string(None) + kproto.i16(-1) + kproto.i32(1000)
        body += kproto.i32(-5)
        c.send(kproto.frame(body))
        # Kafka closes the connection on an unparseable request (or answers with no partitions)
        try:
            payload = c.recv_frame()
            corr, parts = kproto.parse_produce_v3(payload)
            self.assertEqual((corr, parts), (9, []))
        except (ConnectionError, OSError):
            pass

    # --- api keys and versions ---

    def test_unknown_api_key(self):
        c = self.conn()
        c.send(kproto.frame(kproto.header_v1(9999, 0, 11) + b"\x00" * 8))
        # Kafka closes the connection for an unknown api key
        self.assertTrue(c.closed_by_peer(5), "unknown api key 9999 should close the connection")

    def test_api_versions_unsupported_version(self):
        # KIP-511: answer in the v0 layout with UNSUPPORTED_VERSION (35) and the api list
        c = self.conn()
        c.send(kproto.api_versions_v0(12, version=99))
        corr, err, apis = kproto.parse_api_versions_v0(c.recv_frame())
        self.assertEqual(corr, 12)
        self.assertEqual(err, 35)
        self.assertIn(18, apis)
        self.assertEqual(apis[18][0], 0)

    def test_api_versions_lists_core_apis(self):
        c = self.conn()
        c.send(kproto.api_versions_v0(13))
        corr, err, apis = kproto.parse_api_versions_v0(c.recv_frame())
        self.assertEqual((corr, err), (13, 0))
        for key in (0, 1, 2, 3, 18):
            self.assertIn(key, apis)
            lo, hi = apis[key]
            self.assertLessEqual(lo, hi)
        self.assertLessEqual(apis[0][0], 3)   # Produce v3 (record batches) is needed by every client
        self.assertGreaterEqual(apis[0][1], 7)  # zstd needs Produce v7
        self.assertGreaterEqual(apis[1][1], 10)  # zstd needs Fetch v10

    def test_pipelined_requests_answered_in_order(self):
        c = self.conn()
        reqs = b"".join([kproto.api_versions_v0(100), kproto.metadata_v1(101, [TOPIC]), kproto.api_versions_v0(102),
                         kproto.metadata_v1(103, None)])
        c.send(reqs)
        got = [struct.unpack(">i", c.recv_frame()[:4])[0] for _ in range(4)]
        self.assertEqual(got, [100, 101, 102, 103])

    def test_random_bodies_for_every_advertised_api(self):
        """For every api key and version the broker advertises, a valid request header
        followed by random bytes: the broker may answer or close, but must survive."""
        import random
        rnd = random.Random(20261124)
        c = self.conn()
        c.send(kproto.api_versions_v0(50))
        _, _, apis = kproto.parse_api_versions_v0(c.recv_frame())
        c.close()
        for key in sorted(apis):
            lo, hi = apis[key]
            for version in range(lo, hi + 1):
                for attempt in range(12):
                    body = bytes(rnd.randrange(256) for _ in range(rnd.choice((0, 1, 4, 9, 17, 40, 120))))
                    if attempt % 3 == 2:  # plausible lengths and counts, as a decoder reads them
                        body = kproto.i16(-1) + kproto.i32(0x7fffffff) + kproto.i32(-2) + body
                    try:
                        s = kproto.Conn(self.broker.port, timeout=2)
                        s.send(kproto.frame(kproto.header_v1(key, version, 1000 + attempt) + body))
                        try:
                            s.recv_frame()
                        except (ConnectionError, OSError):
                            pass
                        s.close()
                    except OSError:
                        pass
                    self.assertTrue(self.broker.alive(), "broker died on api key %d v%d, body %s\nlog:\n%s"
                                    % (key, version, body.hex(), self.broker.log()))

    # --- record batches ---

    def _produce(self, batch, corr):
        c = self.conn()
        c.send(kproto.produce_v3(corr, TOPIC, 0, batch))
        rcorr, parts = kproto.parse_produce_v3(c.recv_frame())
        self.assertEqual(rcorr, corr)
        self.assertEqual(len(parts), 1)
        self.assertEqual(parts[0][:2], (TOPIC, 0))
        return parts[0][2], parts[0][3]

    def test_produce_wrong_crc_is_corrupt_message(self):
        err, _ = self._produce(kproto.record_batch([(b"bad", b"crc")], corrupt_crc=True), 21)
        self.assertEqual(err, 2, "CORRUPT_MESSAGE expected for a batch with a wrong CRC")

    def test_produce_bit_flip_in_records_is_corrupt_message(self):
        batch = bytearray(kproto.record_batch([(b"flip", b"payload-payload")]))
        batch[-5] ^= 0x01  # inside the record value, covered by the CRC
        err, _ = self._produce(bytes(batch), 22)
        self.assertEqual(err, 2)

    def test_produce_wrong_batch_length(self):
        batch = bytearray(kproto.record_batch([(b"len", b"mismatch")]))
        struct.pack_into(">i", batch, 8, struct.unpack_from(">i", batch, 8)[0] + 10)  # longer than the data
        err, _ = self._produce(bytes(batch), 23)
        self.assertIn(err, (2, 87))  # CORRUPT_MESSAGE, or INVALID_RECORD in Kafka >= 2.5

    def test_produce_valid_raw_batch(self):
        """Control case for the hand-made encoder; appends one record (kept in `expected`)."""
        err, base = self._produce(kproto.record_batch([(b"raw", b"valid")]), 24)
        self.assertEqual((err, base), (0, len(self.expected)))
        type(self).expected = self.expected + [(base, b"raw", b"valid")]

    def test_produce_unknown_partition(self):
        c = self.conn()
        c.send(kproto.produce_v3(25, TOPIC, 99, kproto.record_batch([(b"x", b"y")])))
        _, parts = kproto.parse_produce_v3(c.recv_frame())
        self.assertEqual(parts[0][2], 3)  # UNKNOWN_TOPIC_OR_PARTITION

    def test_produce_two_batches_for_one_partition_is_invalid_record(self):
        # Produce v3+ allows exactly one batch per partition (Kafka: INVALID_RECORD),
        # and nothing of the request is stored.
        two = kproto.record_batch([(b"a", b"1")]) + kproto.record_batch([(b"b", b"2")])
        err, _ = self._produce(two, 27)
        self.assertEqual(err, 87, "INVALID_RECORD expected for two batches in one partition")

    def test_produce_magic_1_rejected_or_converted(self):
        batch = bytearray(kproto.record_batch([(b"m", b"1")], corrupt_crc=True))
        batch[16] = 1  # magic byte
        c = self.conn()
        c.send(kproto.produce_v3(26, TOPIC, 0, bytes(batch)))
        try:
            _, parts = kproto.parse_produce_v3(c.recv_frame())
            self.assertNotEqual(parts[0][2], 0, "a garbage magic-1 message set must not be accepted")
        except (ConnectionError, OSError):
            pass


if __name__ == "__main__":
    unittest.main()
