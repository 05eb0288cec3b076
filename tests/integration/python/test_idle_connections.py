"""connections.max.idle.ms, as Kafka's Selector applies it: a client
connection with nothing read or written for longer is closed by the broker,
one that keeps talking is not, and neither is one whose request is still in
flight (a long-polling Fetch that waits longer than the limit). Raw sockets
(kproto) against one broker with a 1 s limit."""
import time
import unittest

from broker import Broker, free_port, metric
from helpers import create_topic
from kproto import Conn, api_versions_v0, fetch_v4, parse_api_versions_v0, parse_fetch_v4

IDLE_MS = 1000
TOPIC = "idle-t"


class IdleConnectionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.broker = Broker(sets={"connections.max.idle.ms": IDLE_MS, "num.partitions": 1,
                                  "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        create_topic(cls.broker.bootstrap, TOPIC)

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def api_versions(self, conn, corr):
        conn.send(api_versions_v0(corr))
        self.assertEqual(parse_api_versions_v0(conn.recv_frame())[:2], (corr, 0))

    def closed_total(self):
        return metric(self.admin_port, 'runnel_connections_idle_closed_total{listener="PLAINTEXT"}')

    def test_idle_connection_is_closed_and_a_talking_one_is_not(self):
        before = self.closed_total()
        idle, talking = Conn(self.broker.port), Conn(self.broker.port)
        try:
            self.api_versions(idle, 1)
            self.api_versions(talking, 1)
            # The talking one sends a request every 300 ms for 3 s: never idle for 1 s.
            deadline = time.time() + 3
            corr = 2
            while time.time() < deadline:
                self.api_versions(talking, corr)
                corr += 1
                time.sleep(0.3)
            self.api_versions(talking, corr)
            # The idle one was closed meanwhile (a sweep every 100 ms).
            self.assertTrue(idle.closed_by_peer(timeout=2))
            self.assertGreaterEqual(self.closed_total(), before + 1)
        finally:
            idle.close()
            talking.close()

    def test_request_in_flight_is_not_idle(self):
        conn = Conn(self.broker.port, timeout=10)
        try:
            # Nothing to fetch: the Fetch waits its whole 2.5 s, over the 1 s limit.
            start = time.time()
            conn.send(fetch_v4(7, TOPIC, 0, 0, max_wait_ms=2500))
            corr, [part] = parse_fetch_v4(conn.recv_frame())
            self.assertEqual(corr, 7)
            self.assertEqual(part["error"], 0)
            self.assertGreater(time.time() - start, 2.0)
            # And the connection still serves right after it.
            self.api_versions(conn, 8)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
