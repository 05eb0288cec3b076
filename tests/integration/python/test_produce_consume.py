"""kafka-python producer and group-less consumer against runnel."""
import time
import unittest

from helpers import BrokerTestCase, TopicPartition, consumer, create_topic, producer, read_partition


class ProduceConsumeTest(BrokerTestCase):
    def _roundtrip_acks(self, acks, topic):
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks=acks)
        futures = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0) for i in range(20)]
        p.flush(10)
        metas = [f.get(timeout=10) for f in futures]
        p.close(5)
        if acks == 0:
            # fire and forget: Kafka's producer reports offset -1
            self.assertEqual([m.offset for m in metas], [-1] * 20)
            deadline = time.time() + 5
            while time.time() < deadline and len(read_partition(self.bootstrap, topic, 0)) < 20:
                time.sleep(0.2)
        else:
            self.assertEqual([m.offset for m in metas], list(range(20)))
            self.assertTrue(all(m.partition == 0 and m.topic == topic for m in metas))
        recs = read_partition(self.bootstrap, topic, 0)
        self.assertEqual([(r.offset, r.key, r.value) for r in recs],
                         [(i, b"k%d" % i, b"v%d" % i) for i in range(20)])

    def test_acks_0(self):
        self._roundtrip_acks(0, "py_acks0")

    def test_acks_1(self):
        self._roundtrip_acks(1, "py_acks1")

    def test_acks_all(self):
        self._roundtrip_acks("all", "py_acksall")

    def test_assign_and_seek(self):
        topic = "py_seek"
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks="all")
        for i in range(30):
            p.send(topic, value=b"s%d" % i, partition=0)
        p.flush(10)
        p.close(5)
        c = consumer(self.bootstrap)
        tp = TopicPartition(topic, 0)
        try:
            c.assign([tp])
            c.seek(tp, 17)
            got = []
            deadline = time.time() + 10
            while len(got) < 13 and time.time() < deadline:
                for recs in c.poll(timeout_ms=200).values():
                    got.extend(recs)
            self.assertEqual([(r.offset, r.value) for r in got], [(i, b"s%d" % i) for i in range(17, 30)])
            self.assertEqual(c.position(tp), 30)
            # seek backwards, then to the beginning
            c.seek(tp, 3)
            got = []
            while not got and time.time() < deadline:
                for recs in c.poll(timeout_ms=200, max_records=1).values():
                    got.extend(recs)
            self.assertEqual((got[0].offset, got[0].value), (3, b"s3"))
            c.seek_to_beginning(tp)
            self.assertEqual(c.position(tp), 0)
            c.seek_to_end(tp)
            self.assertEqual(c.position(tp), 30)
        finally:
            c.close()

    def test_ordering_within_partition(self):
        topic = "py_order"
        create_topic(self.bootstrap, topic, partitions=2)
        p = producer(self.bootstrap, acks=1, linger_ms=2, batch_size=4096)
        futures = []
        for i in range(2000):
            futures.append(p.send(topic, key=b"k%d" % (i % 2), value=b"%06d" % i, partition=i % 2))
        p.flush(20)
        metas = [f.get(timeout=10) for f in futures]
        p.close(5)
        for part in (0, 1):
            offsets = [m.offset for i, m in enumerate(metas) if i % 2 == part]
            self.assertEqual(offsets, list(range(1000)), "acked offsets of partition %d" % part)
            recs = read_partition(self.bootstrap, topic, part)
            self.assertEqual([r.value for r in recs], [b"%06d" % i for i in range(part, 2000, 2)])
            self.assertEqual([r.offset for r in recs], list(range(1000)))

    def test_concurrent_producers_one_partition(self):
        import threading
        topic = "py_concurrent"
        create_topic(self.bootstrap, topic)
        results = {}

        def run(n):
            p = producer(self.bootstrap, acks="all", linger_ms=1)
            fs = [p.send(topic, value=b"%d-%d" % (n, i), partition=0) for i in range(300)]
            p.flush(20)
            results[n] = [f.get(10).offset for f in fs]
            p.close(5)
        threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(results), [0, 1, 2, 3])
        all_offsets = sorted(o for offs in results.values() for o in offs)
        self.assertEqual(all_offsets, list(range(1200)), "offsets must be dense and unique")
        for n, offs in results.items():
            self.assertEqual(offs, sorted(offs), "producer %d: its records out of order" % n)
        recs = read_partition(self.bootstrap, topic, 0)
        by_offset = {r.offset: r.value for r in recs}
        for n, offs in results.items():
            for i, o in enumerate(offs):
                self.assertEqual(by_offset[o], b"%d-%d" % (n, i))

    def test_headers_and_timestamps(self):
        topic = "py_headers"
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks="all")
        p.send(topic, value=b"h", headers=[("a", b"1"), ("b", b""), ("a", b"2")], timestamp_ms=1600000000123,
               partition=0)
        p.send(topic, value=None, key=b"tombstone", timestamp_ms=1600000000456, partition=0)
        p.flush(10)
        p.close(5)
        recs = read_partition(self.bootstrap, topic, 0)
        self.assertEqual(len(recs), 2)
        self.assertEqual(recs[0].headers, [("a", b"1"), ("b", b""), ("a", b"2")])
        self.assertEqual(recs[0].timestamp, 1600000000123)
        self.assertEqual(recs[0].timestamp_type, 0)  # CreateTime
        self.assertEqual((recs[1].key, recs[1].value, recs[1].timestamp), (b"tombstone", None, 1600000000456))

    def test_compression(self):
        from kafka import codec as kcodec
        available = {"gzip": kcodec.has_gzip(), "snappy": kcodec.has_snappy(), "lz4": kcodec.has_lz4()}
        for codec in [c for c, ok in available.items() if ok]:  # snappy/lz4 need optional python modules
            with self.subTest(codec=codec):
                topic = "py_cmp_" + codec
                create_topic(self.bootstrap, topic)
                p = producer(self.bootstrap, acks="all", compression_type=codec, linger_ms=20)
                for i in range(100):
                    p.send(topic, value=(b"%d-" % i) * 50, partition=0)
                p.flush(10)
                p.close(5)
                recs = read_partition(self.bootstrap, topic, 0)
                self.assertEqual([r.value for r in recs], [(b"%d-" % i) * 50 for i in range(100)])

    def test_offsets_for_times_and_begin_end(self):
        topic = "py_times"
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks="all")
        for i in range(10):
            p.send(topic, value=b"t%d" % i, timestamp_ms=1000 * (i + 1), partition=0)  # 1000..10000
            p.flush(10)
        p.close(5)
        c = consumer(self.bootstrap)
        tp = TopicPartition(topic, 0)
        try:
            self.assertEqual(c.beginning_offsets([tp]), {tp: 0})
            self.assertEqual(c.end_offsets([tp]), {tp: 10})
            r = c.offsets_for_times({tp: 4500})[tp]
            self.assertEqual((r.offset, r.timestamp), (4, 5000))
            r = c.offsets_for_times({tp: 1000})[tp]
            self.assertEqual((r.offset, r.timestamp), (0, 1000))
            r = c.offsets_for_times({tp: 0})[tp]
            self.assertEqual((r.offset, r.timestamp), (0, 1000))
            r = c.offsets_for_times({tp: 10000})[tp]
            self.assertEqual((r.offset, r.timestamp), (9, 10000))
            self.assertIsNone(c.offsets_for_times({tp: 10001})[tp])
        finally:
            c.close()

    def test_offsets_for_times_within_one_batch(self):
        # Kafka looks inside the batch: the first record whose timestamp >= target
        topic = "py_times_batch"
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks="all", linger_ms=500)
        fs = [p.send(topic, value=b"b%d" % i, timestamp_ms=1000 * (i + 1), partition=0) for i in range(10)]
        p.flush(10)
        self.assertEqual([f.get(10).offset for f in fs], list(range(10)))
        p.close(5)
        c = consumer(self.bootstrap)
        tp = TopicPartition(topic, 0)
        try:
            r = c.offsets_for_times({tp: 3500})[tp]
            self.assertEqual((r.offset, r.timestamp), (3, 4000))
            r = c.offsets_for_times({tp: 10000})[tp]
            self.assertEqual((r.offset, r.timestamp), (9, 10000))
            self.assertIsNone(c.offsets_for_times({tp: 10001})[tp])
        finally:
            c.close()

    def test_offsets_for_times_out_of_order_timestamps(self):
        # Kafka returns the first offset whose timestamp is >= the target, even when
        # timestamps are not monotonic.
        topic = "py_times_ooo"
        create_topic(self.bootstrap, topic)
        p = producer(self.bootstrap, acks="all")
        for ts in (5000, 1000, 7000, 3000):
            p.send(topic, value=b"x", timestamp_ms=ts, partition=0)
            p.flush(10)
        p.close(5)
        c = consumer(self.bootstrap)
        tp = TopicPartition(topic, 0)
        try:
            self.assertEqual(c.offsets_for_times({tp: 2000})[tp].offset, 0)
            self.assertEqual(c.offsets_for_times({tp: 6000})[tp].offset, 2)
            self.assertEqual(c.offsets_for_times({tp: 7000})[tp].offset, 2)
            self.assertIsNone(c.offsets_for_times({tp: 7001})[tp])
        finally:
            c.close()

    def test_auto_create_on_produce(self):
        topic = "py_autocreate"
        p = producer(self.bootstrap, acks=1)
        m = p.send(topic, value=b"auto").get(timeout=10)
        p.close(5)
        self.assertEqual((m.topic, m.partition, m.offset), (topic, 0, 0))
        self.assertEqual([r.value for r in read_partition(self.bootstrap, topic, 0)], [b"auto"])


if __name__ == "__main__":
    unittest.main()
