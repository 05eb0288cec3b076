"""Kafka's LogValidator rules on produce, with hand-made batches over a raw
socket (Produce v8, so that record_errors and error_message come back): a
wrong max timestamp is repaired in the stored header and ListOffsets by
timestamp finds the records right away (kafka-python and kcat); batches that
break a rule get Kafka's error code and leave the stored data unchanged."""
import gzip
import shutil
import subprocess
import time
import unittest

import kproto
from helpers import BrokerTestCase, consumer, create_topic
from kafka import TopicPartition

TOPIC = "batchval"
STRICT = "batchval-strict"  # message.timestamp.before.max.ms / after.max.ms = 60 s
APPEND = "batchval-append"  # message.timestamp.type=LogAppendTime

CORRUPT_MESSAGE, INVALID_TIMESTAMP, INVALID_RECORD = 2, 32, 87


def records(n, ts_deltas=None, offset_deltas=None, value=b"v"):
    ts_deltas = ts_deltas or [0] * n
    offset_deltas = offset_deltas if offset_deltas is not None else list(range(n))
    return b"".join(kproto.record(offset_deltas[i], b"k%d" % i, value + b"%d" % i, ts_delta=ts_deltas[i])
                    for i in range(n))


def now_ms():
    return int(time.time() * 1000)


class BatchValidationTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC)
        create_topic(cls.bootstrap, STRICT, configs={"message.timestamp.before.max.ms": "60000",
                                                     "message.timestamp.after.max.ms": "60000"})
        create_topic(cls.bootstrap, APPEND, configs={"message.timestamp.type": "LogAppendTime"})
        cls.corr = 100

    def produce(self, batch, topic=TOPIC):
        type(self).corr += 1
        c = kproto.Conn(self.broker.port)
        try:
            c.send(kproto.produce(self.corr, topic, 0, batch))
            corr, parts = kproto.parse_produce_v8(c.recv_frame())
        finally:
            c.close()
        self.assertEqual(corr, self.corr)
        self.assertEqual(len(parts), 1)
        return parts[0]

    def stored(self, topic=TOPIC):
        """Every stored batch of partition 0, as raw bytes, through Fetch v4."""
        c = kproto.Conn(self.broker.port)
        out, offset = [], 0
        try:
            while True:
                type(self).corr += 1
                c.send(kproto.fetch_v4(self.corr, topic, 0, offset, max_wait_ms=0))
                _, parts = kproto.parse_fetch_v4(c.recv_frame())
                recs = parts[0]["records"] or b""
                o, got = 0, False
                while o + 12 <= len(recs):
                    length = kproto.struct.unpack_from(">i", recs, o + 8)[0]
                    if o + 12 + length > len(recs):
                        break
                    batch = recs[o:o + 12 + length]
                    out.append(batch)
                    h = kproto.batch_header(batch)
                    offset = h["base_offset"] + h["last_offset_delta"] + 1
                    o += 12 + length
                    got = True
                if not got:
                    return out
        finally:
            c.close()

    def assert_rejected(self, batch, error, topic=TOPIC, record_errors=None):
        before = self.stored(topic)
        part = self.produce(batch, topic)
        self.assertEqual(part["error"], error, part)
        self.assertTrue(part["error_message"], "a refusal must say why: %r" % part)
        if record_errors is not None:
            self.assertEqual([i for i, _ in part["record_errors"]], record_errors, part)
            for _, message in part["record_errors"]:
                self.assertTrue(message)
        self.assertEqual(self.stored(topic), before, "a rejected batch changed the stored data")
        self.assertBrokerAlive()
        return part

    def offset_for_time(self, topic, ts):
        c = consumer(self.bootstrap)
        try:
            tp = TopicPartition(topic, 0)
            found = c.offsets_for_times({tp: ts})[tp]
            return None if found is None else (found.offset, found.timestamp)
        finally:
            c.close()

    # --- the max timestamp comes from the records ---
    # Each on a topic of its own: ListOffsets answers the first offset whose
    # timestamp is >= the target, so records of other tests must not precede.

    def fresh_topic(self, name):
        create_topic(self.bootstrap, name)
        return name

    def test_max_timestamp_minus_one_is_repaired(self):
        topic = self.fresh_topic("batchval-ts-minus-one")
        base = now_ms() - 60_000
        part = self.produce(kproto.batch_v2(records(3, ts_deltas=[0, 5, 10]), 3, base, -1), topic)
        self.assertEqual((part["error"], part["base_offset"]), (0, 0), part)
        h = kproto.batch_header(self.stored(topic)[0])
        self.assertEqual(h["max_timestamp"], base + 10)
        self.assertTrue(h["crc_ok"], "the repaired header needs a recomputed CRC")
        self.assertEqual(self.offset_for_time(topic, base + 3), (1, base + 5))
        self.assertEqual(self.offset_for_time(topic, base + 10), (2, base + 10))
        self.assertIsNone(self.offset_for_time(topic, base + 11))

    def test_max_timestamp_too_small_is_repaired(self):
        topic = self.fresh_topic("batchval-ts-small")
        base = now_ms() - 50_000
        part = self.produce(kproto.batch_v2(records(2, ts_deltas=[0, 700]), 2, base, base), topic)
        self.assertEqual(part["error"], 0, part)
        self.assertEqual(kproto.batch_header(self.stored(topic)[0])["max_timestamp"], base + 700)
        self.assertEqual(self.offset_for_time(topic, base + 1), (1, base + 700))

    def test_compressed_batch_max_timestamp_is_repaired(self):
        topic = self.fresh_topic("batchval-ts-gzip")
        base = now_ms() - 40_000
        body = gzip.compress(records(4, ts_deltas=[0, 9, 3, 1]))
        part = self.produce(kproto.batch_v2(body, 4, base, -1, attributes=1), topic)
        self.assertEqual(part["error"], 0, part)
        stored = self.stored(topic)[0]
        h = kproto.batch_header(stored)
        self.assertEqual((h["max_timestamp"], h["attributes"] & 7), (base + 9, 1))
        self.assertTrue(h["crc_ok"])
        self.assertEqual(stored[61:], body, "a compressed batch is stored as sent, never recompressed")
        self.assertEqual(self.offset_for_time(topic, base + 5), (1, base + 9))

    def test_kcat_finds_the_repaired_batch_by_timestamp(self):
        kcat = shutil.which("kcat") or shutil.which("kafkacat")
        if not kcat:
            self.skipTest("kcat is not installed")
        topic = self.fresh_topic("batchval-ts-kcat")
        base = now_ms() - 30_000
        part = self.produce(kproto.batch_v2(records(2, ts_deltas=[0, 20]), 2, base, -1), topic)
        self.assertEqual(part["error"], 0, part)
        out = subprocess.run([kcat, "-b", self.bootstrap, "-Q", "-t", "%s:0:%d" % (topic, base + 1)],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("offset 1", out.stdout, out.stdout + out.stderr)

    # --- offsets and counts ---

    def test_wrong_last_offset_delta_is_invalid_record(self):
        self.assert_rejected(kproto.batch_v2(records(3), 3, now_ms(), now_ms(), last_offset_delta=5), INVALID_RECORD)

    def test_count_larger_than_records_is_invalid_record(self):
        self.assert_rejected(kproto.batch_v2(records(2), 3, now_ms(), now_ms()), INVALID_RECORD)

    def test_inner_offset_deltas_out_of_order(self):
        self.assert_rejected(kproto.batch_v2(records(3, offset_deltas=[0, 2, 1]), 3, now_ms(), now_ms()),
                             INVALID_RECORD, record_errors=[1, 2])

    def test_compressed_inner_offsets_are_checked(self):
        body = gzip.compress(records(3, offset_deltas=[0, 1, 5]))
        self.assert_rejected(kproto.batch_v2(body, 3, now_ms(), now_ms(), attributes=1), INVALID_RECORD,
                             record_errors=[2])

    def test_control_batch_from_a_client_is_invalid_record(self):
        self.assert_rejected(kproto.batch_v2(records(1), 1, now_ms(), now_ms(), attributes=0x20), INVALID_RECORD)

    def test_producer_id_without_sequence_is_invalid_record(self):
        self.assert_rejected(kproto.batch_v2(records(1), 1, now_ms(), now_ms(), producer_id=5, producer_epoch=0),
                             INVALID_RECORD)

    # --- record structure: Kafka's InvalidRecordException (87), not a CRC error ---

    def test_bad_varint_is_invalid_record(self):
        blob = bytes([0xff] * 6) + records(1)
        self.assert_rejected(kproto.batch_v2(blob, 1, now_ms(), now_ms()), INVALID_RECORD)

    def test_record_length_past_the_batch_is_invalid_record(self):
        rec = bytearray(records(1))
        rec[0] += 20  # zig-zag: ten more bytes than there are
        self.assert_rejected(kproto.batch_v2(bytes(rec), 1, now_ms(), now_ms()), INVALID_RECORD)

    def test_trailing_bytes_after_records_are_invalid_record(self):
        self.assert_rejected(kproto.batch_v2(records(1) + b"\x00\x00", 1, now_ms(), now_ms()), INVALID_RECORD)

    def test_negative_header_count_is_invalid_record(self):
        rec = bytearray(records(1))
        rec[-1] = 0x01  # header count -1
        self.assert_rejected(kproto.batch_v2(bytes(rec), 1, now_ms(), now_ms()), INVALID_RECORD)

    def test_undecompressable_body_is_corrupt_message(self):
        self.assert_rejected(kproto.batch_v2(records(2), 2, now_ms(), now_ms(), attributes=1), CORRUPT_MESSAGE)

    def test_bad_crc_is_still_corrupt_message(self):
        batch = bytearray(kproto.batch_v2(records(1), 1, now_ms(), now_ms()))
        batch[-1] ^= 1
        self.assert_rejected(bytes(batch), CORRUPT_MESSAGE)

    # --- timestamps ---

    def test_timestamp_in_the_future_is_invalid_timestamp(self):
        # Kafka 4.0's default message.timestamp.after.max.ms is one hour.
        now = now_ms()
        part = self.assert_rejected(kproto.batch_v2(records(2, ts_deltas=[0, 2 * 3600_000]), 2, now, now),
                                    INVALID_TIMESTAMP, record_errors=[1])
        self.assertIn("out of range", part["record_errors"][0][1])

    def test_topic_window_is_honoured(self):
        now = now_ms()
        self.assert_rejected(kproto.batch_v2(records(2, ts_deltas=[0, -120_000]), 2, now, now), INVALID_TIMESTAMP,
                             topic=STRICT, record_errors=[1])
        self.assert_rejected(kproto.batch_v2(records(1), 1, now + 120_000, now + 120_000), INVALID_TIMESTAMP,
                             topic=STRICT, record_errors=[0])
        part = self.produce(kproto.batch_v2(records(2, ts_deltas=[0, -30_000]), 2, now, now), STRICT)
        self.assertEqual(part["error"], 0, part)

    def test_producer_may_not_set_log_append_time(self):
        now = now_ms()
        self.assert_rejected(kproto.batch_v2(records(2), 2, now, now, attributes=0x08), INVALID_TIMESTAMP,
                             record_errors=[0, 1])
        self.assert_rejected(kproto.batch_v2(records(1), 1, now, now, attributes=0x08), INVALID_TIMESTAMP,
                             topic=APPEND, record_errors=[0])

    def test_log_append_time_topic_takes_any_create_time(self):
        # LogAppendTime topics do not check the producer's timestamps: the broker's replace them.
        far = now_ms() + 10 * 24 * 3600_000
        before = now_ms()
        part = self.produce(kproto.batch_v2(records(1), 1, far, -1), APPEND)
        self.assertEqual(part["error"], 0, part)
        h = kproto.batch_header(self.stored(APPEND)[-1])
        self.assertTrue(h["attributes"] & 0x08)
        self.assertTrue(before <= h["max_timestamp"] <= now_ms() + 1000, h)

    def test_no_timestamp_is_accepted(self):
        # Records without timestamps (-1) are not range checked, as in Kafka.
        part = self.produce(kproto.batch_v2(records(1), 1, -1, -1), STRICT)
        self.assertEqual(part["error"], 0, part)


if __name__ == "__main__":
    unittest.main()
