"""queued.max.request.bytes (kafka/request_memory_pool.h): the broker reads a
request only while the request bytes it holds unanswered, over all
connections, are under the limit; the rest wait in their sockets, as Kafka
mutes their channels, and are read once answers free room.

Long-polling Fetch requests hold their bytes for their whole wait, so with a
1 KiB limit (and socket.request.max.bytes of 1 KiB, the least Kafka allows
with it) a dozen of them exhaust the pool: the broker must leave the rest,
and an ApiVersions request on a new connection, unread until the polls end,
then answer every one of them, and give all the bytes back.
"""
import select
import time
import unittest

from broker import Broker, free_port, metric
from helpers import create_topic
from kproto import Conn, api_versions_v0, fetch_v4, parse_api_versions_v0, parse_fetch_v4

TOPIC = "pool-t"
LIMIT = 1024
POLLS = 20           # ~90 bytes each: about 12 fit under the limit
POLL_WAIT_MS = 6000  # how long each Fetch waits for records that never come


class QueuedMaxRequestBytesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.broker = Broker(sets={"queued.max.request.bytes": LIMIT, "socket.request.max.bytes": LIMIT,
                                  "message.max.bytes": LIMIT - 24, "num.partitions": 1,
                                  "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        create_topic(cls.broker.bootstrap, TOPIC)

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def sample(self, name):
        value = metric(self.admin_port, name)
        self.assertIsNotNone(value, "/metrics has no " + name)
        return value

    def test_requests_wait_in_their_sockets_until_answers_free_room(self):
        self.assertEqual(self.sample("runnel_request_memory_pool_capacity_bytes"), LIMIT)
        waits_before = self.sample("runnel_request_memory_pool_waits_total")
        polls = [Conn(self.broker.port, timeout=30) for _ in range(POLLS)]
        try:
            for i, conn in enumerate(polls):
                conn.send(fetch_v4(i + 1, TOPIC, 0, 0, max_wait_ms=POLL_WAIT_MS))
            sent = time.time()
            deadline = time.time() + 3
            while self.sample("runnel_request_memory_pool_waits_total") <= waits_before and time.time() < deadline:
                time.sleep(0.1)
            self.assertGreater(self.sample("runnel_request_memory_pool_waits_total"), waits_before,
                               "%d long polls did not exhaust a %d-byte pool" % (POLLS, LIMIT))
            self.assertGreaterEqual(self.sample("runnel_request_memory_pool_used_bytes"), LIMIT)

            late = Conn(self.broker.port, timeout=30)
            late.send(api_versions_v0(99))
            readable, _, _ = select.select([late.s], [], [], 1.5)
            self.assertEqual(readable, [], "a request was read while the pool was exhausted")
            # Until here the polls must still be waiting, or the checks above
            # proved nothing (a machine too slow for this test's timing).
            self.assertLess(time.time() - sent, POLL_WAIT_MS / 1000.0 - 1.0, "the checks ran after the polls ended")
            for conn in polls:
                readable, _, _ = select.select([conn.s], [], [], 0)
                self.assertEqual(readable, [], "a long poll ended early")

            # The polls end, their bytes come back, and everything waiting is read.
            corr, err, apis = parse_api_versions_v0(late.recv_frame())
            self.assertEqual((corr, err), (99, 0))
            self.assertIn(1, apis)
            late.s.close()
            for i, conn in enumerate(polls):
                corr, [part] = parse_fetch_v4(conn.recv_frame())
                self.assertEqual(corr, i + 1)
                self.assertEqual(part["error"], 0, part)
                self.assertEqual(part["hw"], 0, part)
        finally:
            for conn in polls:
                conn.close()
        deadline = time.time() + 5
        while self.sample("runnel_request_memory_pool_used_bytes") > 0 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.sample("runnel_request_memory_pool_used_bytes"), 0)


if __name__ == "__main__":
    unittest.main()
