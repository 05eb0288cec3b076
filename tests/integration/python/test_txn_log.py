"""Transactions on the partition side (KIP-98) against the real broker.

Transactional batches are produced raw (producer ids from InitProducerId
without a transactional id: the coordinator is not needed to open a
transaction in a partition), and ended with WriteTxnMarkers requests, as a
transaction coordinator sends them. Then:

- raw Fetch v4: read_committed stops at the last stable offset (the first
  offset of the earliest open transaction) and lists the aborted
  transactions overlapping what it returns; read_uncommitted reads to the
  high watermark with a null aborted list; a long-polling read_committed
  fetch wakes when a marker moves the LSO;
- confluent-kafka (librdkafka 2.0.2), isolation.level read_committed vs
  read_uncommitted: committed records visible to both, aborted ones only to
  read_uncommitted, control records never delivered;
- ListOffsets v2 latest: LSO for read_committed, HW for read_uncommitted;
  DescribeProducers: the open transaction's first offset;
- the marker rules: stale producer epoch (47), stale coordinator epoch (52),
  a plain write inside a transaction (48), unknown partition (3);
- LSO and the aborted list survive kill -9 and a clean restart;
- in a 3-broker cluster, the new leader after a kill -9 of the old one
  answers the same LSO and aborted list.

No coordinator knows these transactions, so the brokers run with
transaction.partition.verification.enable=false: with KIP-890's
verification (the default, as in Kafka) a transactional batch opens a
transaction only in a partition its coordinator added to it
(test_txn_verification.py).
"""
import struct
import threading
import time
import unittest

from confluent_kafka import Consumer, TopicPartition

import etcd
import kproto
import test_idempotent as idem
from broker import Broker
from helpers import create_topic

NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE = 0, 3, 47, 48
NO_VERIFICATION = {"transaction.partition.verification.enable": "false"}
TRANSACTION_COORDINATOR_FENCED = 52
TRANSACTIONAL = 0x10
CONTROL = 0x20


def txn_batch(pid, epoch, seq, values):
    recs = b"".join(kproto.record(i, None, v) for i, v in enumerate(values))
    ts = int(time.time() * 1000)
    return kproto.batch_v2(recs, len(values), ts, ts, attributes=TRANSACTIONAL, producer_id=pid,
                           producer_epoch=epoch, base_sequence=seq)


def plain_batch(values):
    return kproto.record_batch([(None, v) for v in values])


def uvarint(v):
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7


def read_uvarint(r):
    shift = value = 0
    while True:
        b = r.take(1)[0]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value


def write_txn_markers(port, pid, epoch, commit, coordinator_epoch, topic, partitions, version=0, cid=27):
    """WriteTxnMarkers v0 or v1 (flexible), one marker -> [(partition, error)]."""
    c = kproto.Conn(port, timeout=40)
    try:
        if version == 0:
            body = kproto.header_v1(27, 0, cid) + kproto.i32(1) + kproto.i64(pid) + kproto.i16(epoch)
            body += kproto.i8(1 if commit else 0) + kproto.i32(1) + kproto.string(topic)
            body += kproto.i32(len(partitions)) + b"".join(kproto.i32(p) for p in partitions)
            body += kproto.i32(coordinator_epoch)
        else:
            name = topic.encode()
            body = kproto.header_v1(27, version, cid) + b"\x00"  # request header v2: tags
            body += uvarint(2) + kproto.i64(pid) + kproto.i16(epoch) + kproto.i8(1 if commit else 0)
            body += uvarint(2) + uvarint(len(name) + 1) + name
            body += uvarint(len(partitions) + 1) + b"".join(kproto.i32(p) for p in partitions) + b"\x00"
            body += kproto.i32(coordinator_epoch) + b"\x00" + b"\x00"
        c.send(kproto.frame(body))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == cid
        out = []
        if version == 0:
            assert r.i32() == 1
            assert r.i64() == pid
            assert r.i32() == 1
            assert r.string() == topic
            for _ in range(r.i32()):
                out.append((r.i32(), r.i16()))
        else:
            assert read_uvarint(r) == 0  # response header tags
            assert read_uvarint(r) == 2
            assert r.i64() == pid
            assert read_uvarint(r) == 2
            assert r.take(read_uvarint(r) - 1).decode() == topic
            for _ in range(read_uvarint(r) - 1):
                out.append((r.i32(), r.i16()))
                assert read_uvarint(r) == 0
        return out
    finally:
        c.close()


def marker(port, pid, epoch, commit, topic, coordinator_epoch=0, partition=0):
    return write_txn_markers(port, pid, epoch, commit, coordinator_epoch, topic, [partition])[0][1]


def records_of(blob):
    """[(offset, value, is_control)] of every record in a records blob (uncompressed)."""
    out, o = [], 0
    while blob is not None and o + 61 <= len(blob):
        base, length = struct.unpack_from(">qi", blob, o)
        if o + 12 + length > len(blob):
            break
        attrs = struct.unpack_from(">h", blob, o + 21)[0]
        count = struct.unpack_from(">i", blob, o + 57)[0]
        r = kproto.Reader(blob[o + 61:o + 12 + length])
        for _ in range(count):
            def varint():
                v = read_uvarint(r)
                return (v >> 1) ^ -(v & 1)
            varint()  # length
            r.take(1)
            varint()  # timestamp delta
            delta = varint()
            klen = varint()
            if klen > 0:
                r.take(klen)
            vlen = varint()
            value = r.take(vlen) if vlen >= 0 else None
            for _ in range(varint()):
                r.take(varint())
                r.take(varint())
            out.append((base + delta, value, bool(attrs & CONTROL)))
        o += 12 + length
    return out


def fetch(port, topic, offset, isolation, max_wait_ms=100, partition=0):
    """Fetch v4 -> dict(error, hw, lso, aborted (None or [(pid, first)]), records [(offset, value, control)])."""
    c = kproto.Conn(port, timeout=30)
    try:
        c.send(kproto.fetch_v4(9, topic, partition, offset, max_wait_ms=max_wait_ms, isolation_level=isolation))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == 9
        r.i32()  # throttle
        assert r.i32() == 1
        r.string()
        assert r.i32() == 1
        r.i32()
        err, hw, lso = r.i16(), r.i64(), r.i64()
        n = r.i32()
        aborted = None if n < 0 else [(r.i64(), r.i64()) for _ in range(n)]
        size = r.i32()
        blob = None if size < 0 else r.take(size)
        return dict(error=err, hw=hw, lso=lso, aborted=aborted, records=records_of(blob))
    finally:
        c.close()


def list_latest(port, topic, isolation, partition=0):
    """ListOffsets v2, timestamp -1 -> (error, offset)."""
    c = kproto.Conn(port)
    try:
        body = kproto.header_v1(2, 2, 5) + kproto.i32(-1) + kproto.i8(isolation)
        body += kproto.i32(1) + kproto.string(topic) + kproto.i32(1) + kproto.i32(partition) + kproto.i64(-1)
        c.send(kproto.frame(body))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == 5
        r.i32()
        assert r.i32() == 1
        r.string()
        assert r.i32() == 1
        r.i32()
        err = r.i16()
        r.i64()  # timestamp
        return err, r.i64()
    finally:
        c.close()


def txn_start_offsets(port, topic, partition=0, cid=4):
    """DescribeProducers v0 -> {producer id: current_txn_start_offset}."""
    c = kproto.Conn(port)
    try:
        name = topic.encode()
        body = (kproto.i16(61) + kproto.i16(0) + kproto.i32(cid) + kproto.string("runnel-it") + b"\x00" + b"\x02"
                + uvarint(len(name) + 1) + name + b"\x02" + kproto.i32(partition) + b"\x00" + b"\x00")
        c.send(kproto.frame(body))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == cid
        assert read_uvarint(r) == 0
        r.i32()
        assert read_uvarint(r) == 2
        r.take(read_uvarint(r) - 1)
        assert read_uvarint(r) == 2
        r.i32()
        assert r.i16() == 0
        n = read_uvarint(r)
        if n:
            r.take(n - 1)
        out = {}
        for _ in range(read_uvarint(r) - 1):
            pid = r.i64()
            r.i32(), r.i32(), r.i64(), r.i32()
            out[pid] = r.i64()
            assert read_uvarint(r) == 0
        return out
    finally:
        c.close()


def consume(bootstrap, topic, isolation, settle=3.0, partition=0):
    """Every value a confluent-kafka consumer with isolation.level delivers from offset 0, polling
    until nothing new came for `settle` seconds."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-check", "enable.auto.commit": False,
                  "isolation.level": isolation, "enable.partition.eof": False})
    try:
        c.assign([TopicPartition(topic, partition, 0)])
        out, last = [], time.time()
        while time.time() - last < settle:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                raise AssertionError("consumer error: %s" % m.error())
            out.append((m.offset(), m.value()))
            last = time.time()
        return out
    finally:
        c.close()


class TxnLogTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(sets=NO_VERIFICATION).start()
        self.port = self.broker.port
        self.topic = "txn"
        create_topic(self.broker.bootstrap, self.topic, 1)

    def tearDown(self):
        self.broker.cleanup()

    def produce(self, batch):
        return idem.produce(self.port, self.topic, batch)

    def new_pid(self):
        err, pid, epoch = idem.init_producer_id(self.port)
        self.assertEqual((err, epoch), (NONE, 0))
        return pid

    def build_log(self):
        """p0 | A: a1 a2 | B: b1 | COMMIT A | ABORT B | p1 | A: a3 (open) | p2  -> offsets 0..8."""
        a, b = self.new_pid(), self.new_pid()
        self.assertEqual(self.produce(plain_batch([b"p0"])), (NONE, 0))
        self.assertEqual(self.produce(txn_batch(a, 0, 0, [b"a1", b"a2"])), (NONE, 1))
        self.assertEqual(self.produce(txn_batch(b, 0, 0, [b"b1"])), (NONE, 3))
        self.assertEqual(marker(self.port, a, 0, True, self.topic), NONE)
        self.assertEqual(marker(self.port, b, 0, False, self.topic), NONE)
        self.assertEqual(self.produce(plain_batch([b"p1"])), (NONE, 6))
        self.assertEqual(self.produce(txn_batch(a, 0, 2, [b"a3"])), (NONE, 7))
        self.assertEqual(self.produce(plain_batch([b"p2"])), (NONE, 8))
        return a, b

    def check_state(self, lso, hw, aborted):
        committed = fetch(self.port, self.topic, 0, 1)
        self.assertEqual(committed["error"], NONE)
        self.assertEqual((committed["lso"], committed["hw"]), (lso, hw))
        self.assertEqual(committed["aborted"], aborted)
        self.assertTrue(all(o < lso for o, _, _ in committed["records"]), committed["records"])
        self.assertEqual(list_latest(self.port, self.topic, 1), (NONE, lso))
        self.assertEqual(list_latest(self.port, self.topic, 0), (NONE, hw))

    def test_read_committed_vs_uncommitted(self):
        a, b = self.build_log()
        committed = fetch(self.port, self.topic, 0, 1)
        self.assertEqual((committed["error"], committed["hw"], committed["lso"]), (NONE, 9, 7))
        self.assertEqual(committed["aborted"], [(b, 3)])
        self.assertEqual([(o, v) for o, v, c in committed["records"] if not c],
                         [(0, b"p0"), (1, b"a1"), (2, b"a2"), (3, b"b1"), (6, b"p1")])
        self.assertEqual([o for o, _, c in committed["records"] if c], [4, 5])
        # From past the aborted transaction's marker: no longer listed.
        self.assertEqual(fetch(self.port, self.topic, 6, 1)["aborted"], [])
        uncommitted = fetch(self.port, self.topic, 0, 0)
        self.assertEqual((uncommitted["hw"], uncommitted["lso"], uncommitted["aborted"]), (9, 7, None))
        self.assertEqual([o for o, _, c in uncommitted["records"] if not c], [0, 1, 2, 3, 6, 7, 8])
        self.assertEqual(list_latest(self.port, self.topic, 1), (NONE, 7))
        self.assertEqual(list_latest(self.port, self.topic, 0), (NONE, 9))
        self.assertEqual(txn_start_offsets(self.port, self.topic), {a: 7, b: -1})

        # librdkafka: aborted records dropped, control records never delivered, stop at the LSO.
        bootstrap = self.broker.bootstrap
        self.assertEqual(consume(bootstrap, self.topic, "read_committed"),
                         [(0, b"p0"), (1, b"a1"), (2, b"a2"), (6, b"p1")])
        self.assertEqual(consume(bootstrap, self.topic, "read_uncommitted"),
                         [(0, b"p0"), (1, b"a1"), (2, b"a2"), (3, b"b1"), (6, b"p1"), (7, b"a3"), (8, b"p2")])

        # A plain write by A inside its transaction.
        self.assertEqual(self.produce(idem.idem_batch(a, 0, 3, [b"x"]))[0], INVALID_TXN_STATE)

        # A long-polling read_committed fetch at the LSO wakes when the marker is written.
        result = {}

        def poll():
            t0 = time.time()
            result["fetch"] = fetch(self.port, self.topic, 7, 1, max_wait_ms=8000)
            result["elapsed"] = time.time() - t0

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        self.assertEqual(marker(self.port, a, 0, True, self.topic, coordinator_epoch=1), NONE)  # offset 9
        t.join(15)
        self.assertLess(result["elapsed"], 5.0)
        self.assertEqual(result["fetch"]["lso"], 10)
        self.assertEqual([o for o, _, c in result["fetch"]["records"] if not c], [7, 8])
        self.assertEqual(consume(bootstrap, self.topic, "read_committed"),
                         [(0, b"p0"), (1, b"a1"), (2, b"a2"), (6, b"p1"), (7, b"a3"), (8, b"p2")])

    def test_marker_errors(self):
        a, _ = self.build_log()
        # Stale coordinator epoch (the last marker for A had 0; bump it to 3 first).
        self.assertEqual(marker(self.port, a, 0, True, self.topic, coordinator_epoch=3), NONE)
        self.assertEqual(marker(self.port, a, 0, False, self.topic, coordinator_epoch=2),
                         TRANSACTION_COORDINATOR_FENCED)
        # A new producer epoch (the coordinator bumped it), then the old one is stale.
        self.assertEqual(marker(self.port, a, 1, False, self.topic, coordinator_epoch=3), NONE)
        self.assertEqual(marker(self.port, a, 0, False, self.topic, coordinator_epoch=3), INVALID_PRODUCER_EPOCH)
        # Unknown partitions and topics, several partitions in one request, v1.
        create_topic(self.broker.bootstrap, "txn3", 3)
        self.assertEqual(write_txn_markers(self.port, a, 1, True, 3, "txn3", [0, 1, 2, 7]),
                         [(0, NONE), (1, NONE), (2, NONE), (7, UNKNOWN_TOPIC_OR_PARTITION)])
        self.assertEqual(write_txn_markers(self.port, a, 1, True, 3, "nope", [0], version=1),
                         [(0, UNKNOWN_TOPIC_OR_PARTITION)])
        self.assertEqual(write_txn_markers(self.port, a, 1, False, 3, "txn3", [1], version=1), [(1, NONE)])
        # Markers never reach the application.
        self.assertEqual(consume(self.broker.bootstrap, "txn3", "read_committed", settle=1.5), [])

    def test_markers_on_consumer_offsets(self):
        """Markers written to every __consumer_offsets partition are skipped when the
        group coordinator loads its partitions again: committed offsets survive."""
        def commit():
            c = kproto.Conn(self.port)
            try:
                c.send(kproto.offset_commit_v2(7, "txn-group", self.topic, 0, 5))
                return kproto.parse_offset_commit_v2(c.recv_frame())
            finally:
                c.close()

        deadline = time.time() + 20
        while commit() != NONE:
            self.assertLess(time.time(), deadline, "OffsetCommit never succeeded")
            time.sleep(0.2)
        _, _, topics = kproto.metadata(self.port, ["__consumer_offsets"])
        partitions = sorted(topics["__consumer_offsets"][1])
        self.assertTrue(partitions)
        pid = self.new_pid()
        self.assertEqual(write_txn_markers(self.port, pid, 0, True, 0, "__consumer_offsets", partitions),
                         [(p, NONE) for p in partitions])
        self.broker.stop()
        self.broker.restart()

        def fetch_committed():
            c = kproto.Conn(self.port)
            try:
                c.send(kproto.offset_fetch_v1(8, "txn-group", self.topic, 0))
                return kproto.parse_offset_fetch_v1(c.recv_frame())
            finally:
                c.close()

        deadline = time.time() + 20
        while (got := fetch_committed()) != (5, NONE):
            self.assertLess(time.time(), deadline, got)
            time.sleep(0.2)
        self.assertNotIn("malformed", self.broker.log())

    def test_state_survives_kill9_and_clean_restart(self):
        a, b = self.build_log()
        # Another aborted transaction, after the open one.
        self.assertEqual(self.produce(txn_batch(b, 0, 1, [b"b2", b"b3"])), (NONE, 9))
        self.assertEqual(marker(self.port, b, 0, False, self.topic), NONE)  # 11
        # read_committed returns offsets below 7: (b, 9) starts past them.
        self.check_state(7, 12, [(b, 3)])
        self.assertEqual(fetch(self.port, self.topic, 0, 0)["aborted"], None)
        self.broker.kill9()
        self.broker.restart()
        self.check_state(7, 12, [(b, 3)])
        self.assertEqual(txn_start_offsets(self.port, self.topic).get(a), 7)
        self.broker.stop()
        self.broker.restart()
        self.check_state(7, 12, [(b, 3)])
        # The transaction left open across both restarts is still closed by its marker.
        self.assertEqual(marker(self.port, a, 0, False, self.topic), NONE)  # 12: aborts 7..12
        # In marker order, as Kafka's index lists them.
        self.check_state(13, 13, [(b, 3), (b, 9), (a, 7)])
        self.broker.kill9()
        self.broker.restart()
        self.check_state(13, 13, [(b, 3), (b, 9), (a, 7)])
        self.assertEqual(consume(self.broker.bootstrap, self.topic, "read_committed"),
                         [(0, b"p0"), (1, b"a1"), (2, b"a2"), (6, b"p1"), (8, b"p2")])


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterTxnLogTest(unittest.TestCase):
    def setUp(self):
        from cluster import Cluster
        from test_cluster_replication import FAST
        self.cluster = Cluster(3, sets={**FAST, **NO_VERIFICATION}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_new_leader_has_the_same_lso_and_aborted_list(self):
        from kafka.admin import NewTopic

        from cluster import wait_for
        from helpers import admin
        from test_cluster_idempotent import attempt, until
        from test_cluster_replication import states
        c = self.cluster
        a_client = admin(c.brokers[1].bootstrap)
        try:
            a_client.create_topics([NewTopic("txnc", 1, 3)])
        finally:
            a_client.close()
        full = wait_for(lambda: (s := states(c.view(1, ["txnc"]), "txnc")) and 0 in s and len(s[0][3]) == 3 and s)
        self.assertTrue(full, states(c.view(1, ["txnc"]), "txnc"))
        leader = full[0][1]
        port = c.brokers[leader].port
        _, a, _ = idem.init_producer_id(port)
        _, b, _ = idem.init_producer_id(port)
        self.assertTrue(until((NONE, 0), idem.produce, port, "txnc", txn_batch(b, 0, 0, [b"b1", b"b2"])))
        self.assertEqual(marker(port, b, 0, False, "txnc"), NONE)  # 2: aborted, acknowledged by the ISR
        self.assertEqual(idem.produce(port, "txnc", txn_batch(a, 0, 0, [b"a1"])), (NONE, 3))  # open
        self.assertEqual(idem.produce(port, "txnc", plain_batch([b"p"])), (NONE, 4))
        want = dict(lso=3, hw=5, aborted=[(b, 0)])
        got = lambda p: (lambda f: dict(lso=f["lso"], hw=f["hw"], aborted=f["aborted"]))(fetch(p, "txnc", 0, 1))
        self.assertTrue(wait_for(lambda: got(port) == want), got(port))
        # Every follower has replicated through the high watermark before the kill.
        time.sleep(1.0)

        c.brokers[leader].kill9()
        others = [n for n in c.brokers if n != leader]
        moved = wait_for(lambda: (s := states(c.view(others[0], ["txnc"]), "txnc")) and s[0][1] in others and s)
        self.assertTrue(moved, states(c.view(others[0], ["txnc"]), "txnc"))
        new_port = c.brokers[moved[0][1]].port
        self.assertTrue(wait_for(lambda: attempt(got, new_port) == want), attempt(got, new_port))
        self.assertEqual(list_latest(new_port, "txnc", 1), (NONE, 3))
        self.assertEqual(txn_start_offsets(new_port, "txnc").get(a), 3)
        # The new leader closes the open transaction; read_committed moves on.
        self.assertEqual(marker(new_port, a, 0, True, "txnc"), NONE)
        after = wait_for(lambda: (f := attempt(got, new_port)) and f["lso"] == 6 and f)
        self.assertTrue(after, attempt(got, new_port))
        self.assertEqual(after["aborted"], [(b, 0)])


if __name__ == "__main__":
    unittest.main()
