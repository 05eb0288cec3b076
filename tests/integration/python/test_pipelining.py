"""Requests pipelined on one connection (raw sockets): the broker reads the
next Produce while an acks=all one waits for its fdatasync, yet appends them in
the order sent and answers them in that order; a Fetch or Metadata sent behind
Produce requests sees their records; acks=0 requests in between get no answer
and do not disturb the order; a malformed request behind good ones closes the
connection only after the good ones are answered."""
import unittest

import kproto
from helpers import BrokerTestCase, create_topic

TOPIC = "pipelined"


class PipeliningTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC, partitions=2)

    def setUp(self):
        self.c = kproto.Conn(self.broker.port, timeout=15)

    def tearDown(self):
        self.c.close()
        self.assertBrokerAlive()

    def produce_many(self, partition, n, acks=-1, first_corr=1000):
        data = b"".join(
            kproto.produce_v3(first_corr + i, TOPIC, partition, kproto.record_batch([(None, b"r%d" % i)]), acks=acks)
            for i in range(n))
        self.c.send(data)  # all of them before reading any answer

    def test_acks_all_requests_in_flight_are_appended_and_answered_in_order(self):
        n = 300
        self.produce_many(0, n)
        offsets = []
        for i in range(n):
            corr, parts = kproto.parse_produce_v3(self.c.recv_frame())
            self.assertEqual(corr, 1000 + i, "answers must come back in request order")
            (_, partition, err, base), = parts
            self.assertEqual((partition, err), (0, 0))
            offsets.append(base)
        self.assertEqual(offsets, list(range(offsets[0], offsets[0] + n)), "appended in the order sent")
        # The values sit at the offsets the answers gave them.
        self.c.send(kproto.fetch_v4(7, TOPIC, 0, offsets[0], max_bytes=1 << 22))
        corr, (p,) = kproto.parse_fetch_v4(self.c.recv_frame())
        self.assertEqual((corr, p["error"]), (7, 0))
        got = kproto.batches(p["records"])
        self.assertEqual([b[0] for b in got[:n]], offsets)

    def test_fetch_behind_produce_sees_its_records(self):
        corr0 = 5000
        self.produce_many(1, 20, acks=1, first_corr=corr0)
        self.c.send(kproto.fetch_v4(6000, TOPIC, 1, 0, max_wait_ms=0, min_bytes=0))
        last = None
        for i in range(20):
            corr, parts = kproto.parse_produce_v3(self.c.recv_frame())
            self.assertEqual(corr, corr0 + i)
            last = parts[0][3]
        corr, (p,) = kproto.parse_fetch_v4(self.c.recv_frame())
        self.assertEqual(corr, 6000)
        self.assertGreaterEqual(p["hw"], last + 1, "the fetch was sent after the produce requests")

    def test_acks_zero_in_between_gets_no_answer(self):
        batch = kproto.record_batch([(None, b"x")])
        data = (kproto.produce_v3(1, TOPIC, 0, batch, acks=-1) + kproto.produce_v3(2, TOPIC, 0, batch, acks=0)
                + kproto.produce_v3(3, TOPIC, 0, batch, acks=-1) + kproto.metadata_v1(4, [TOPIC]))
        self.c.send(data)
        corr1, p1 = kproto.parse_produce_v3(self.c.recv_frame())
        corr3, p3 = kproto.parse_produce_v3(self.c.recv_frame())
        self.assertEqual((corr1, corr3), (1, 3))
        self.assertEqual(p3[0][3], p1[0][3] + 2, "the acks=0 record sits between the other two")
        corr4 = kproto.Reader(self.c.recv_frame()).i32()
        self.assertEqual(corr4, 4)

    def test_malformed_request_behind_good_ones(self):
        self.produce_many(0, 10, first_corr=100)
        self.c.send(kproto.frame(kproto.header_v1(0, 3, 999) + b"\x00\x01"))  # truncated Produce body
        for i in range(10):
            corr, parts = kproto.parse_produce_v3(self.c.recv_frame())
            self.assertEqual((corr, parts[0][2]), (100 + i, 0))
        self.assertTrue(self.c.closed_by_peer(), "the malformed request closes the connection")


if __name__ == "__main__":
    unittest.main()
