"""The broker gives memory back after a burst of large requests
(server/memory_trimmer.h): a request buffer over 8 MiB is freed once its
request is handled rather than kept for the next one, and once 64 MiB of them
were freed the trimmer calls malloc_trim at its next tick (every 10 s).

Resident size is not asserted: glibc often returns such blocks by itself, so
a test on RSS could pass without the trim. /metrics counts the trims instead
(runnel_memory_trims_total). Each request here is a Produce of one 9 MiB
record, over message.max.bytes: the broker must read it whole, answer
MESSAGE_TOO_LARGE and store nothing.
"""
import time
import unittest

from broker import Broker, free_port, metric
from helpers import create_topic
from kproto import Conn, parse_produce_v8, produce, record_batch

TOPIC = "trim-t"
RECORD_BYTES = 9 << 20  # over the 8 MiB a connection keeps as a spare buffer
REQUESTS = 8            # 72 MiB freed: over the trimmer's 64 MiB
MESSAGE_TOO_LARGE = 10
TICK_SECONDS = 10       # the trimmer's interval (app/main.cc)


class MemoryTrimTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.broker = Broker(sets={"num.partitions": 1,
                                  "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        create_topic(cls.broker.bootstrap, TOPIC)

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def trims(self):
        value = metric(self.admin_port, "runnel_memory_trims_total")
        self.assertIsNotNone(value, "/metrics has no runnel_memory_trims_total")
        return value

    def test_large_requests_freed_lead_to_a_trim(self):
        before = self.trims()
        batch = record_batch([(None, b"x" * RECORD_BYTES)])
        conn = Conn(self.broker.port, timeout=30)
        try:
            for i in range(REQUESTS):
                conn.send(produce(i + 1, TOPIC, 0, batch))
                corr, [answer] = parse_produce_v8(conn.recv_frame())
                self.assertEqual(corr, i + 1)
                self.assertEqual(answer["error"], MESSAGE_TOO_LARGE, answer)
        finally:
            conn.close()
        deadline = time.time() + 2 * TICK_SECONDS + 5
        while self.trims() <= before and time.time() < deadline:
            time.sleep(0.5)
        self.assertGreater(self.trims(), before, "no trim within two ticks of 72 MiB of request buffers freed")
        # Nothing was stored, and the broker still serves.
        conn = Conn(self.broker.port, timeout=30)
        try:
            conn.send(produce(100, TOPIC, 0, record_batch([(b"k", b"small")])))
            _, [answer] = parse_produce_v8(conn.recv_frame())
            self.assertEqual(answer["error"], 0, answer)
            self.assertEqual(answer["base_offset"], 0, answer)
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
