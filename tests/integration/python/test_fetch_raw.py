"""Fetch and Produce semantics checked at the wire level (raw sockets): long
polling, whole batches from the middle, high watermark = last stable offset,
error codes, acks=0 producing no response, Metadata v0, and a wildcard
listener advertised as loopback."""
import socket
import struct
import threading
import time
import unittest

import kproto
from broker import Broker
from helpers import BrokerTestCase, create_topic

TOPIC = "rawfetch"
FILL_TOPIC = "rawfetch_fill"
FILL_BATCHES = 3
FILL_BATCH_BYTES = 1000 + 61 + 8  # one record's value, the batch header and the record's own fields


class RawFetchTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC, partitions=3)
        create_topic(cls.bootstrap, FILL_TOPIC, partitions=6)
        c = kproto.Conn(cls.broker.port)
        try:
            # one batch of 5 records at offsets 0..4 of partition 0
            c.send(kproto.produce_v3(1, TOPIC, 0, kproto.record_batch([(b"k%d" % i, b"v%d" % i) for i in range(5)])))
            _, parts = kproto.parse_produce_v3(c.recv_frame())
            assert parts[0][2:] == (0, 0), parts
            # FILL_BATCHES batches of one ~1 KB record in each of FILL_TOPIC's partitions
            for p in range(6):
                for i in range(FILL_BATCHES):
                    c.send(kproto.produce_v3(2, FILL_TOPIC, p, kproto.record_batch([(None, b"x" * 1000)])))
                    _, parts = kproto.parse_produce_v3(c.recv_frame())
                    assert parts[0][2:] == (0, i), parts
        finally:
            c.close()

    def setUp(self):
        self.c = kproto.Conn(self.broker.port, timeout=10)

    def tearDown(self):
        self.c.close()
        self.assertBrokerAlive()

    def fetch(self, offset, partition=0, topic=TOPIC, **kw):
        self.c.send(kproto.fetch_v4(77, topic, partition, offset, **kw))
        corr, parts = kproto.parse_fetch_v4(self.c.recv_frame())
        self.assertEqual(corr, 77)
        self.assertEqual(len(parts), 1)
        return parts[0]

    def test_fetch_from_start(self):
        p = self.fetch(0)
        self.assertEqual((p["topic"], p["partition"], p["error"]), (TOPIC, 0, 0))
        self.assertEqual(p["hw"], 5)
        self.assertEqual(p["lso"], 5, "last stable offset must equal the high watermark without transactions")
        # read_committed (fetch_v4's default): with no transaction the list of
        # aborted transactions is empty, not null.
        self.assertEqual(p["aborted"], 0)
        self.assertEqual(kproto.batches(p["records"]), [(0, 4, 5)])

    def test_read_uncommitted_has_no_aborted_transactions_list(self):
        p = self.fetch(0, isolation_level=0)
        self.assertEqual((p["error"], p["hw"], p["lso"], p["aborted"]), (0, 5, 5, -1))  # null, as Kafka
        self.assertEqual(kproto.batches(p["records"]), [(0, 4, 5)])

    def test_metadata_v0_with_no_topics_lists_every_topic(self):
        # kafka-python probes with ApiVersions v0 then Metadata v0: in v0 an empty
        # list means every topic (v1 made that null).
        self.c.send(kproto.frame(kproto.header_v1(3, 0, 5) + kproto.i32(0)))
        r = kproto.Reader(self.c.recv_frame())
        self.assertEqual(r.i32(), 5)
        for _ in range(r.i32()):  # brokers: node id, host, port (no rack in v0)
            r.i32(), r.string(), r.i32()
        topics = {}
        for _ in range(r.i32()):
            err, name = r.i16(), r.string()
            partitions = r.i32()
            for _ in range(partitions):
                r.i16(), r.i32(), r.i32()  # error, index, leader
                for _ in range(2):  # replicas, isr
                    for _ in range(r.i32()):
                        r.i32()
            topics[name] = (err, partitions)
        self.assertEqual(topics.get(TOPIC), (0, 3))
        self.assertEqual(topics.get(FILL_TOPIC), (0, 6))

    def test_fetch_from_middle_of_batch_returns_whole_batch(self):
        p = self.fetch(3)
        self.assertEqual(p["error"], 0)
        self.assertEqual(kproto.batches(p["records"]), [(0, 4, 5)])

    def test_fetch_at_end_long_polls(self):
        t0 = time.time()
        p = self.fetch(5, max_wait_ms=1000)
        elapsed = time.time() - t0
        self.assertEqual((p["error"], p["hw"]), (0, 5))
        self.assertEqual(kproto.batches(p["records"]), [])
        self.assertGreaterEqual(elapsed, 0.8, "Fetch with min_bytes=1 at the log end returned before max_wait_ms")
        self.assertLess(elapsed, 3.0)

    def test_fetch_min_bytes_zero_returns_at_once(self):
        t0 = time.time()
        p = self.fetch(5, max_wait_ms=3000, min_bytes=0)
        self.assertEqual(p["error"], 0)
        self.assertLess(time.time() - t0, 1.0)

    def test_fetch_long_poll_wakes_on_produce(self):
        def later():
            time.sleep(0.5)
            c = kproto.Conn(self.broker.port)
            try:
                c.send(kproto.produce_v3(2, TOPIC, 1, kproto.record_batch([(None, b"wake")])))
                c.recv_frame()
            finally:
                c.close()
        t = threading.Thread(target=later)
        t0 = time.time()
        t.start()
        p = self.fetch(0, partition=1, max_wait_ms=5000)
        elapsed = time.time() - t0
        t.join()
        self.assertEqual(p["error"], 0)
        self.assertEqual([b[0] for b in kproto.batches(p["records"])], [0])
        self.assertLess(elapsed, 2.5, "the fetch should return as soon as data arrives, not after max_wait_ms")

    def test_consumer_closing_mid_long_poll_is_not_a_warning(self):
        """A consumer that goes away while its long-poll Fetch waits: when data
        arrives the broker's sendfile meets a closed socket (EPIPE/ECONNRESET),
        a normal disconnect that must not be logged as a warning; nor must a
        client that resets its connection."""
        for attempt in range(5):
            c = kproto.Conn(self.broker.port)
            end = self.fetch(0, partition=2, max_wait_ms=0, min_bytes=0)["hw"]
            c.send(kproto.fetch_v4(90, TOPIC, 2, end, max_wait_ms=5000, max_bytes=8 << 20))
            time.sleep(0.2)  # the fetch is parked
            c.close()
            time.sleep(0.1)
            p = kproto.Conn(self.broker.port)
            try:
                big = [(b"k", bytes(200_000)) for _ in range(4)]
                p.send(kproto.produce_v3(91, TOPIC, 2, kproto.record_batch(big)))
                _, parts = kproto.parse_produce_v3(p.recv_frame())
                self.assertEqual(parts[0][2], 0)
            finally:
                p.close()
        # And one that resets its connection (SO_LINGER 0) in the middle of a frame.
        r = kproto.Conn(self.broker.port)
        r.send(kproto.i32(100) + b"\x00" * 10)
        time.sleep(0.1)
        r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        r.close()
        time.sleep(0.5)
        log = self.broker.log()
        self.assertNotIn("Broken pipe", log)
        self.assertNotIn("reset by peer", log)
        self.assertNotIn("connection error", log)

    def test_fetch_offset_out_of_range(self):
        self.assertEqual(self.fetch(1000)["error"], 1)  # OFFSET_OUT_OF_RANGE

    def test_fetch_negative_offset_out_of_range(self):
        self.assertEqual(self.fetch(-5)["error"], 1)

    def test_fetch_unknown_topic(self):
        p = self.fetch(0, topic="rawfetch_no_such_topic")
        self.assertEqual(p["error"], 3)  # UNKNOWN_TOPIC_OR_PARTITION

    def test_fetch_unknown_partition(self):
        self.assertEqual(self.fetch(0, partition=9)["error"], 3)

    def test_fetch_small_max_bytes_still_returns_first_batch(self):
        # KIP-74: the first batch is returned even if larger than max_bytes, so consumers progress
        p = self.fetch(0, max_bytes=10)
        self.assertEqual(p["error"], 0)
        self.assertEqual(kproto.batches(p["records"]), [(0, 4, 5)], "the whole first batch despite max_bytes=10")

    def fetch_filling(self, partitions, max_bytes, partition_max=1 << 20):
        """Fetches FILL_TOPIC's partitions from offset 0 in the given order:
        ({partition: [(base, last, count)]}, total record bytes)."""
        self.c.send(kproto.fetch_v4_partitions(78, FILL_TOPIC, [(p, 0, partition_max) for p in partitions],
                                               max_bytes))
        corr, parts = kproto.parse_fetch_v4(self.c.recv_frame())
        self.assertEqual(corr, 78)
        self.assertEqual([p["partition"] for p in parts], partitions, "answered in the request's order")
        for p in parts:
            self.assertEqual((p["error"], p["hw"]), (0, FILL_BATCHES), p)
        return ({p["partition"]: kproto.batches(p["records"]) for p in parts},
                sum(len(p["records"] or b"") for p in parts))

    def test_many_partitions_fill_the_response_in_order(self):
        # Their limits together (6 MiB) exceed the response's: each partition
        # gets what the ones before it left, in the request's order, as Kafka
        # fills a response, and the whole stays within max_bytes. Whole
        # batches only (~1.1 KB each); the partitions are spread over the
        # broker's shards, so the order is not one shard's.
        order = [4, 0, 5, 1, 3, 2]
        got, total = self.fetch_filling(order, max_bytes=5000)
        self.assertLessEqual(total, 5000)
        self.assertEqual([len(got[p]) for p in order], [FILL_BATCHES, 1, 0, 0, 0, 0], got)
        # Room for everything: every batch of every partition.
        got, total = self.fetch_filling(order, max_bytes=1 << 20)
        self.assertEqual([len(got[p]) for p in order], [FILL_BATCHES] * 6)
        # A partition's own limit: one batch each.
        got, _ = self.fetch_filling(order, max_bytes=1 << 20, partition_max=FILL_BATCH_BYTES + 10)
        self.assertEqual([len(got[p]) for p in order], [1] * 6)

    def test_many_partitions_only_the_first_batch_may_exceed_the_limits(self):
        # KIP-74: the first partition with data gets its first batch even over
        # both limits; no other partition gets more than its limit allows.
        order = [2, 3, 0, 1, 5, 4]
        got, _ = self.fetch_filling(order, max_bytes=10)
        self.assertEqual([len(got[p]) for p in order], [1, 0, 0, 0, 0, 0], got)
        got, _ = self.fetch_filling(order, max_bytes=1 << 20, partition_max=100)
        self.assertEqual([len(got[p]) for p in order], [1, 0, 0, 0, 0, 0], got)

    def test_one_connection_fetches_a_topic_deleted_and_created_again(self):
        # The broker keeps what a connection's last Fetch looked up; a
        # replica closed and opened again under the same name must be
        # looked up again, not read through what was kept.
        from helpers import admin
        name = "rawfetch_again"
        for round_ in range(2):
            create_topic(self.bootstrap, name, partitions=2)
            value = b"round-%d" % round_
            c = kproto.Conn(self.broker.port)
            try:
                c.send(kproto.produce_v3(3, name, 1, kproto.record_batch([(None, value)])))
                _, parts = kproto.parse_produce_v3(c.recv_frame())
                self.assertEqual(parts[0][2:], (0, 0))
            finally:
                c.close()
            for _ in range(2):  # twice: the second from what the first left
                self.c.send(kproto.fetch_v4_partitions(79, name, [(0, 0, 1 << 20), (1, 0, 1 << 20)], 1 << 20))
                _, got = kproto.parse_fetch_v4(self.c.recv_frame())
                self.assertEqual([(p["partition"], p["error"], p["hw"]) for p in got], [(0, 0, 0), (1, 0, 1)])
                self.assertIn(value, got[1]["records"])
            a = admin(self.bootstrap)
            try:
                a.delete_topics([name])
            finally:
                a.close()
            deadline = time.time() + 10
            while time.time() < deadline:
                self.c.send(kproto.fetch_v4(80, name, 1, 0))
                _, got = kproto.parse_fetch_v4(self.c.recv_frame())
                if got[0]["error"] == 3:  # UNKNOWN_TOPIC_OR_PARTITION: gone
                    break
                time.sleep(0.1)
            else:
                self.fail("the deleted topic is still served")

    def session_fetch(self, session_id, epoch, topics, **kw):
        """-> (error, session id, {partition: part}, seconds taken) of a follower's Fetch v12 in a session."""
        start = time.time()
        self.c.send(kproto.fetch_session_v12(81, session_id, epoch, topics, **kw))
        session = {}
        corr, error, parts, _ = kproto.parse_fetch_flexible(self.c.recv_frame(), 12, session=session)
        self.assertEqual(corr, 81)
        return error, session["id"], {p["partition"]: p for p in parts}, time.time() - start

    def produce_one(self, topic, partition, value):
        c = kproto.Conn(self.broker.port)
        try:
            c.send(kproto.produce_v3(4, topic, partition, kproto.record_batch([(None, value)])))
            _, parts = kproto.parse_produce_v3(c.recv_frame())
            self.assertEqual(parts[0][2], 0)
        finally:
            c.close()

    def test_a_followers_fetch_session_answers_only_what_changed(self):
        # KIP-227 on the leader's side: a full fetch (epoch 0) opens a session
        # and answers every partition; an incremental one names only what
        # changed and is answered only partitions with news.
        name = "rawfetch_session"
        create_topic(self.bootstrap, name, partitions=3)
        self.produce_one(name, 0, b"first")
        error, sid, got, _ = self.session_fetch(0, 0, [(name, [(0, 0), (1, 0), (2, 0)])])
        self.assertEqual(error, 0)
        self.assertNotEqual(sid, 0, "a follower's full fetch with epoch 0 opens a session")
        self.assertEqual(sorted(got), [0, 1, 2])
        self.assertEqual(kproto.batches(got[0]["records"])[0][:2], (0, 0))
        # Partition 0 at its new offset, nothing new anywhere: an empty answer
        # once max_wait is over.
        error, sid2, got, _ = self.session_fetch(sid, 1, [(name, [(0, 1)])], max_wait_ms=300)
        self.assertEqual((error, sid2, got), (0, sid, {}))
        # Naming nothing, it waits; a record on partition 2 wakes it and is the
        # whole answer.
        timer = threading.Timer(0.5, self.produce_one, args=(name, 2, b"second"))
        timer.start()
        try:
            error, _, got, took = self.session_fetch(sid, 2, [], max_wait_ms=15000)
        finally:
            timer.join()
        self.assertEqual((error, sorted(got)), (0, [2]))
        self.assertLess(took, 10, "the append woke the session's parked fetch")
        self.assertEqual(got[2]["hw"], 1)
        self.assertEqual(kproto.batches(got[2]["records"])[0][:2], (0, 0))
        # Partition 1 forgotten: a record there is not answered.
        error, _, got, _ = self.session_fetch(sid, 3, [(name, [(2, 1)])], forgotten=[(name, [1])], max_wait_ms=100)
        self.assertEqual((error, got), (0, {}))
        self.produce_one(name, 1, b"third")
        error, _, got, _ = self.session_fetch(sid, 4, [], max_wait_ms=300)
        self.assertEqual((error, got), (0, {}))
        # Out of step: INVALID_FETCH_SESSION_EPOCH; an unknown session:
        # FETCH_SESSION_ID_NOT_FOUND; the session survives the former.
        self.assertEqual(self.session_fetch(sid, 9, [])[0], 71)
        self.assertEqual(self.session_fetch(sid + 1, 1, [])[0], 70)
        self.assertEqual(self.session_fetch(sid, 5, [], max_wait_ms=0)[:3], (0, sid, {}))
        # Epoch -1 closes it: a full answer without a session, and then the
        # session is gone.
        error, sid3, got, _ = self.session_fetch(sid, -1, [(name, [(1, 0)])])
        self.assertEqual((error, sid3, sorted(got)), (0, 0, [1]))
        self.assertEqual(self.session_fetch(sid, 6, [])[0], 70)

    def test_a_consumer_gets_no_fetch_session(self):
        # Sessions are offered to followers only: a consumer's epoch 0 is
        # answered session id 0 (full requests from then on).
        error, sid, got, _ = self.session_fetch(0, 0, [(TOPIC, [(0, 0)])], replica_id=-1)
        self.assertEqual((error, sid), (0, 0))
        self.assertEqual(kproto.batches(got[0]["records"])[0], (0, 4, 5))

    def test_produce_acks0_sends_no_response(self):
        self.c.send(kproto.produce_v3(31, TOPIC, 2, kproto.record_batch([(None, b"acks0")]), acks=0))
        self.c.send(kproto.api_versions_v0(32))
        corr, err, _ = kproto.parse_api_versions_v0(self.c.recv_frame())
        self.assertEqual((corr, err), (32, 0), "a Produce with acks=0 must not be answered")
        # the record was appended
        deadline = time.time() + 5
        while time.time() < deadline:
            p = self.fetch(0, partition=2)
            if p["hw"] >= 1:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(p["hw"], 1)


class WildcardListenerTest(unittest.TestCase):
    """A listener on 0.0.0.0 (as `--listen 0.0.0.0:9092`) is advertised as
    127.0.0.1: clients must get an address they can connect to, not the wildcard."""

    def test_wildcard_listener_advertises_loopback(self):
        b = Broker(plaintext_listener=False)
        b.sets["listeners"] = "PLAINTEXT://0.0.0.0:%d" % b.port
        try:
            b.start()
            brokers, _, _ = kproto.metadata(b.port)
            self.assertEqual(brokers, {0: ("127.0.0.1", b.port, None)})
        finally:
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
