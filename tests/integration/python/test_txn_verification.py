"""KIP-890 part 1 (transaction verification) against the real broker, over raw
sockets, as Kafka 3.6+/4.x behaves with transaction.partition.verification.enable
(the default):

- a transactional Produce to a partition its transaction never added is
  refused and stores nothing: INVALID_TXN_STATE for Produce v3-v10,
  TRANSACTION_ABORTABLE for v11 and v12 (v12 is served as v11: runnel does not
  finalize transaction.version 2, so nothing is added implicitly); the partition
  that was added takes the same producer's batch;
- the hanging transaction: a batch arriving after its transaction was aborted
  (same epoch: refused as not in a transaction; after a timeout abort, which
  bumps the epoch: INVALID_PRODUCER_EPOCH) is refused, and the last stable
  offset stays where it was instead of hanging on a transaction no coordinator
  knows;
- TxnOffsetCommit is verified too: INVALID_TXN_STATE until AddOffsetsToTxn
  added the group's __consumer_offsets partition;
- transactional batches of two producers in one request:
  INVALID_PRODUCER_ID_MAPPING for all, nothing stored;
- with transaction.partition.verification.enable=false, the same requests are
  appended as before KIP-890 (and the late batch leaves a hanging transaction);
- AddPartitionsToTxn v4/v5 (brokers only): verify_only answers per partition,
  a v4 add adds; with ACLs on, a client without CLUSTER_ACTION gets
  CLUSTER_AUTHORIZATION_FAILED as the top-level error and nothing looked at;
- in a 3-broker cluster, a partition led by another broker than the
  transaction coordinator: the leader asks the coordinator over the
  inter-broker connection (AddPartitionsToTxn v5), with the same answers.
"""
import time
import unittest

from kafka.admin import NewTopic

import etcd
import kproto
from broker import Broker
from helpers import admin, create_topic
from test_broker_configs import BROKER, DELETE, SET, describe, incremental_alter

NONE, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING = 0, 47, 48, 49
CLUSTER_AUTHORIZATION_FAILED, NOT_ENOUGH_REPLICAS, UNKNOWN_TOPIC_OR_PARTITION = 31, 19, 3
OPERATION_NOT_ATTEMPTED, NOT_COORDINATOR, TRANSACTION_ABORTABLE = 55, 16, 120
TRANSACTIONAL = 0x10
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def txn_batch(pid, epoch, seq, values, transactional=True):
    recs = b"".join(kproto.record(i, None, v) for i, v in enumerate(values))
    ts = int(time.time() * 1000)
    return kproto.batch_v2(recs, len(values), ts, ts, attributes=TRANSACTIONAL if transactional else 0,
                           producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def call(port, body, cid):
    """Sends one request (its header included) and returns a Reader past the correlation id."""
    r = kproto.Reader(kproto.round_trip(port, kproto.frame(body), timeout=40))
    assert r.i32() == cid
    return r


def find_coordinator(port, txn_id, cid=10):
    """FindCoordinator v1, key type 1 -> (error, node, port)."""
    for _ in range(100):
        r = call(port, kproto.header_v1(10, 1, cid) + kproto.string(txn_id) + kproto.i8(1), cid)
        r.i32()
        err = r.i16()
        r.string()
        node, host, p = r.i32(), r.string(), r.i32()
        if err == NONE:
            return err, node, p
        time.sleep(0.1)
    return err, node, p


def init_producer_id(port, txn_id, timeout_ms=60000, cid=22):
    """InitProducerId v1 -> (error, producer id, epoch); retried while the coordinator is not ready."""
    for _ in range(100):
        r = call(port, kproto.header_v1(22, 1, cid) + kproto.string(txn_id) + kproto.i32(timeout_ms), cid)
        r.i32()
        err, pid, epoch = r.i16(), r.i64(), r.i16()
        if err not in kproto.COORDINATOR_ERRORS + (51,):  # or CONCURRENT_TRANSACTIONS
            return err, pid, epoch
        time.sleep(0.1)
    return err, pid, epoch


def add_partitions(port, txn_id, pid, epoch, topic, partitions, cid=24):
    """AddPartitionsToTxn v1 (a client's) -> {partition: error}."""
    body = kproto.header_v1(24, 1, cid) + kproto.string(txn_id) + kproto.i64(pid) + kproto.i16(epoch)
    body += kproto.i32(1) + kproto.string(topic) + kproto.i32(len(partitions))
    body += b"".join(kproto.i32(p) for p in partitions)
    r = call(port, body, cid)
    r.i32()
    out = {}
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[p] = r.i16()
    return out


def end_txn(port, txn_id, pid, epoch, commit, cid=26):
    """EndTxn v1 -> error."""
    body = kproto.header_v1(26, 1, cid) + kproto.string(txn_id) + kproto.i64(pid) + kproto.i16(epoch)
    body += kproto.i8(1 if commit else 0)
    r = call(port, body, cid)
    r.i32()
    return r.i16()


def add_offsets(port, txn_id, pid, epoch, group, cid=25):
    """AddOffsetsToTxn v0 -> error."""
    body = kproto.header_v1(25, 0, cid) + kproto.string(txn_id) + kproto.i64(pid) + kproto.i16(epoch)
    r = call(port, body + kproto.string(group), cid)
    r.i32()
    return r.i16()


def txn_offset_commit(port, txn_id, group, pid, epoch, topic, partition, offset, cid=28):
    """TxnOffsetCommit v0, one partition -> error."""
    body = kproto.header_v1(28, 0, cid) + kproto.string(txn_id) + kproto.string(group) + kproto.i64(pid)
    body += kproto.i16(epoch) + kproto.i32(1) + kproto.string(topic) + kproto.i32(1) + kproto.i32(partition)
    body += kproto.i64(offset) + kproto.string(None)
    r = call(port, body, cid)
    r.i32()
    assert r.i32() == 1
    r.string()
    assert r.i32() == 1
    r.i32()
    return r.i16()


def add_partitions_v4(port, transactions, version=4, cid=44):
    """AddPartitionsToTxn v4/v5 (a broker's): transactions = [(txn_id, pid, epoch, verify_only,
    {topic: [partitions]})] -> (top-level error, {txn_id: {(topic, partition): error}})."""
    def txn(t):
        txn_id, pid, epoch, verify_only, topics = t
        tps = [kproto.cstring(name) + kproto.uvarint(len(ps) + 1) + b"".join(kproto.i32(p) for p in ps)
               + kproto.NO_TAGS for name, ps in topics.items()]
        return (kproto.cstring(txn_id) + kproto.i64(pid) + kproto.i16(epoch) + kproto.i8(1 if verify_only else 0)
                + kproto.carray(tps) + kproto.NO_TAGS)
    body = kproto.header_v2(24, version, cid) + kproto.carray([txn(t) for t in transactions]) + kproto.NO_TAGS
    corr, r = kproto.flexible_response(kproto.round_trip(port, kproto.frame(body), timeout=40))
    assert corr == cid
    r.i32()  # throttle
    error = r.i16()
    out = {}
    for _ in range(r.carray_len()):
        txn_id = r.cstring()
        results = out.setdefault(txn_id, {})
        for _ in range(r.carray_len()):
            topic = r.cstring()
            for _ in range(r.carray_len()):
                p, e = r.i32(), r.i16()
                r.tags()
                results[(topic, p)] = e
            r.tags()
        r.tags()
    return error, out


def produce(port, topic, partition, batch, txn_id, version=8):
    """One partition's Produce with a transactional id -> (error, base_offset, error_message).
    Retried, as clients do, while the answer is NOT_ENOUGH_REPLICAS: the
    coordinator answers CONCURRENT_TRANSACTIONS while a transaction ends."""
    for _ in range(100):
        out = produce_once(port, topic, partition, batch, txn_id, version)
        if out[0] != NOT_ENOUGH_REPLICAS:
            return out
        time.sleep(0.05)
    return out


def produce_once(port, topic, partition, batch, txn_id, version=8):
    if version >= 9:
        frame = kproto.produce_flexible(7, topic, partition, batch, version=version, transactional_id=txn_id)
        _, parts, _ = kproto.parse_produce_flexible(kproto.round_trip(port, frame, timeout=40))
    else:
        body = kproto.header_v1(0, version, 7) + kproto.string(txn_id) + kproto.i16(-1) + kproto.i32(30000)
        body += kproto.i32(1) + kproto.string(topic) + kproto.i32(1) + kproto.i32(partition) + kproto.nbytes(batch)
        payload = kproto.round_trip(port, kproto.frame(body), timeout=40)
        if version == 3:
            _, [(_, _, err, base)] = kproto.parse_produce_v3(payload)
            return err, base, None
        assert version == 8
        _, parts = kproto.parse_produce_v8(payload)
    return parts[0]["error"], parts[0]["base_offset"], parts[0]["error_message"]


def produce_two(port, topic, batches, txn_id):
    """Produce v8 with one batch per partition (partition -> batch) -> {partition: error}."""
    body = kproto.header_v1(0, 8, 7) + kproto.string(txn_id) + kproto.i16(-1) + kproto.i32(30000)
    body += kproto.i32(1) + kproto.string(topic) + kproto.i32(len(batches))
    for p, b in batches.items():
        body += kproto.i32(p) + kproto.nbytes(b)
    _, parts = kproto.parse_produce_v8(kproto.round_trip(port, kproto.frame(body), timeout=40))
    return {p["partition"]: p["error"] for p in parts}


def fetch(port, topic, partition, isolation=1):
    """Fetch v4 from offset 0 -> dict(error, hw, lso, aborted, records)."""
    _, parts = kproto.parse_fetch_v4(kproto.round_trip(port, kproto.fetch_v4(9, topic, partition, 0,
                                                                              isolation_level=isolation)))
    return parts[0]


def wait_until(cond, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


class VerificationTest(unittest.TestCase):
    """One broker, verification on (the default)."""

    @classmethod
    def setUpClass(cls):
        # Timed-out transactions are looked for every 200 ms (the hanging case with an epoch bump).
        cls.broker = Broker(sets={"transaction.abort.timed.out.transaction.cleanup.interval.ms": 200}).start()
        cls.port = cls.broker.port

    def setUp(self):
        self.topic = self.id().rsplit(".", 1)[-1]
        create_topic(self.broker.bootstrap, self.topic, 3)

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def tearDown(self):
        self.assertTrue(self.broker.alive(), self.broker.log())

    def begin(self, txn_id, partitions, timeout_ms=60000):
        err, pid, epoch = init_producer_id(self.port, txn_id, timeout_ms)
        self.assertEqual(err, NONE)
        if partitions:
            self.assertEqual(add_partitions(self.port, txn_id, pid, epoch, self.topic, partitions),
                             {p: NONE for p in partitions})
        return pid, epoch

    def end_offset(self, partition):
        return fetch(self.port, self.topic, partition, isolation=0)["hw"]

    def test_partition_never_added(self):
        pid, epoch = self.begin("tv-never", [0])
        before = self.end_offset(1)
        # Produce v3-v10: INVALID_TXN_STATE, with Kafka's message.
        for version in (3, 8, 9, 10):
            err, _, message = produce(self.port, self.topic, 1, txn_batch(pid, epoch, 0, [b"x"]), "tv-never",
                                      version=version)
            self.assertEqual(err, INVALID_TXN_STATE, version)
            if version >= 8:
                self.assertEqual(message, "Partition was not added to the transaction")
        # v11 and v12 (KIP-890's error): TRANSACTION_ABORTABLE; v12 adds nothing either.
        for version in (11, 12):
            err, _, _ = produce(self.port, self.topic, 1, txn_batch(pid, epoch, 0, [b"x"]), "tv-never",
                                version=version)
            self.assertEqual(err, TRANSACTION_ABORTABLE, version)
        self.assertEqual(self.end_offset(1), before)  # nothing stored
        self.assertEqual(fetch(self.port, self.topic, 1)["records"], b"")
        # The partition that was added takes the same producer's batches.
        err, base, _ = produce(self.port, self.topic, 0, txn_batch(pid, epoch, 0, [b"a", b"b"]), "tv-never")
        self.assertEqual(err, NONE)
        err, _, _ = produce(self.port, self.topic, 0, txn_batch(pid, epoch, 2, [b"c"]), "tv-never", version=11)
        self.assertEqual(err, NONE)
        self.assertEqual(end_txn(self.port, "tv-never", pid, epoch, True), NONE)
        self.assertTrue(wait_until(lambda: fetch(self.port, self.topic, 0)["lso"] == base + 4))
        # A transactional batch without a transactional id cannot be verified: refused too.
        err, _, _ = produce(self.port, self.topic, 2, txn_batch(pid, epoch, 3, [b"y"]), None)
        self.assertEqual(err, INVALID_TXN_STATE)

    def test_late_batch_after_abort_is_refused(self):
        pid, epoch = self.begin("tv-late", [2])
        start = self.end_offset(2)
        self.assertEqual(produce(self.port, self.topic, 2, txn_batch(pid, epoch, 0, [b"t1"]), "tv-late")[0], NONE)
        self.assertEqual(end_txn(self.port, "tv-late", pid, epoch, False), NONE)
        # The abort marker is written: everything below the log end is stable.
        self.assertTrue(wait_until(lambda: fetch(self.port, self.topic, 2)["lso"] == start + 2))
        # The batch that was "delayed in the network" arrives now: without
        # verification it would open a transaction no coordinator knows of.
        err, _, message = produce(self.port, self.topic, 2, txn_batch(pid, epoch, 1, [b"late"]), "tv-late")
        self.assertEqual(err, INVALID_TXN_STATE)
        self.assertEqual(message, "Partition was not added to the transaction")
        f = fetch(self.port, self.topic, 2)
        self.assertEqual((f["hw"], f["lso"]), (start + 2, start + 2))
        # The producer's next transaction works as usual (the partition added again).
        self.assertEqual(add_partitions(self.port, "tv-late", pid, epoch, self.topic, [2]), {2: NONE})
        self.assertEqual(produce(self.port, self.topic, 2, txn_batch(pid, epoch, 1, [b"t2"]), "tv-late")[0], NONE)
        self.assertEqual(end_txn(self.port, "tv-late", pid, epoch, True), NONE)
        self.assertTrue(wait_until(lambda: fetch(self.port, self.topic, 2)["lso"] == start + 4))

    def test_late_batch_after_timeout_abort_has_a_stale_epoch(self):
        pid, epoch = self.begin("tv-timeout", [1], timeout_ms=1000)
        self.assertEqual(produce(self.port, self.topic, 1, txn_batch(pid, epoch, 0, [b"t1"]), "tv-timeout")[0], NONE)
        # The coordinator aborts the transaction past its timeout, bumping the
        # epoch: the abort marker follows the batch, and nothing is unstable.
        self.assertTrue(wait_until(lambda: fetch(self.port, self.topic, 1)["lso"] == 2))
        hw = self.end_offset(1)
        err, _, _ = produce(self.port, self.topic, 1, txn_batch(pid, epoch, 1, [b"late"]), "tv-timeout")
        self.assertEqual(err, INVALID_PRODUCER_EPOCH)
        self.assertEqual(self.end_offset(1), hw)

    def test_txn_offset_commit_needs_add_offsets(self):
        # KIP-890 verifies the offsets batch too (GroupCoordinator.handleTxnCommitOffsets):
        # the group's __consumer_offsets partition must be in the transaction.
        pid, epoch = self.begin("tv-offsets", [0])
        group = "tv-offsets-group"
        self.assertEqual(txn_offset_commit(self.port, "tv-offsets", group, pid, epoch, self.topic, 0, 5),
                         INVALID_TXN_STATE)
        self.assertEqual(add_offsets(self.port, "tv-offsets", pid, epoch, group), NONE)
        self.assertEqual(txn_offset_commit(self.port, "tv-offsets", group, pid, epoch, self.topic, 0, 5), NONE)
        self.assertEqual(end_txn(self.port, "tv-offsets", pid, epoch, True), NONE)

    def test_two_producers_in_one_request(self):
        pid, epoch = self.begin("tv-two", [0, 1])
        other, other_epoch = self.begin("tv-two-other", [])
        before = (self.end_offset(0), self.end_offset(1))
        errors = produce_two(self.port, self.topic, {0: txn_batch(pid, epoch, 0, [b"a"]),
                                                   1: txn_batch(other, other_epoch, 0, [b"b"])}, "tv-two")
        self.assertEqual(errors, {0: INVALID_PRODUCER_ID_MAPPING, 1: INVALID_PRODUCER_ID_MAPPING})
        self.assertEqual((self.end_offset(0), self.end_offset(1)), before)
        self.assertEqual(end_txn(self.port, "tv-two", pid, epoch, False), NONE)

    def test_add_partitions_to_txn_v4_v5(self):
        pid, epoch = self.begin("tv-v4", [0])
        for version in (4, 5):
            error, results = add_partitions_v4(self.port, [
                ("tv-v4", pid, epoch, True, {self.topic: [0, 1]}),
                ("tv-v4-unknown", 1, 0, True, {self.topic: [0]}),
                ("tv-v4-bad", pid, epoch, True, {"nope": [0], self.topic: [0]}),
            ], version=version)
            self.assertEqual(error, NONE)
            self.assertEqual(results["tv-v4"], {(self.topic, 0): NONE, (self.topic, 1): TRANSACTION_ABORTABLE})
            self.assertEqual(results["tv-v4-unknown"], {(self.topic, 0): INVALID_PRODUCER_ID_MAPPING})
            self.assertEqual(results["tv-v4-bad"], {("nope", 0): UNKNOWN_TOPIC_OR_PARTITION,
                                                    (self.topic, 0): OPERATION_NOT_ATTEMPTED})
        # A stale epoch: PRODUCER_FENCED, as the coordinator answers it (the
        # partition leader turns it into INVALID_PRODUCER_EPOCH for the producer).
        _, results = add_partitions_v4(self.port, [("tv-v4", pid, epoch + 1, True, {self.topic: [0]})])
        self.assertEqual(results["tv-v4"], {(self.topic, 0): 90})
        # Verification wrote nothing: partition 1 is still not in the transaction.
        # Without verify_only, v4 adds it (what a TV2 broker would send).
        _, results = add_partitions_v4(self.port, [("tv-v4", pid, epoch, False, {self.topic: [1]})])
        self.assertEqual(results["tv-v4"], {(self.topic, 1): NONE})
        _, results = add_partitions_v4(self.port, [("tv-v4", pid, epoch, True, {self.topic: [1]})], version=5)
        self.assertEqual(results["tv-v4"], {(self.topic, 1): NONE})
        self.assertEqual(end_txn(self.port, "tv-v4", pid, epoch, False), NONE)


class VerificationOffTest(unittest.TestCase):
    """transaction.partition.verification.enable=false: as before KIP-890."""

    def test_same_requests_are_appended(self):
        b = Broker(sets={"transaction.partition.verification.enable": "false"}).start()
        try:
            create_topic(b.bootstrap, "verify", 2)
            err, pid, epoch = init_producer_id(b.port, "off")
            self.assertEqual(err, NONE)
            self.assertEqual(add_partitions(b.port, "off", pid, epoch, "verify", [0]), {0: NONE})
            # The partition never added takes the batch (and its transaction
            # stays open there: no marker will ever come for it).
            self.assertEqual(produce(b.port, "verify", 1, txn_batch(pid, epoch, 0, [b"x"]), "off")[0], NONE)
            self.assertEqual(produce(b.port, "verify", 0, txn_batch(pid, epoch, 1, [b"a"]), "off")[0], NONE)
            self.assertEqual(end_txn(b.port, "off", pid, epoch, False), NONE)
            self.assertTrue(wait_until(lambda: fetch(b.port, "verify", 0)["lso"] == 2))
            # The late batch after the abort: appended, and the partition's
            # last stable offset hangs there (the hanging transaction).
            self.assertEqual(produce(b.port, "verify", 0, txn_batch(pid, epoch, 2, [b"late"]), "off")[0], NONE)
            time.sleep(0.5)
            f = fetch(b.port, "verify", 0)
            self.assertEqual((f["hw"], f["lso"]), (3, 2))
            self.assertEqual(fetch(b.port, "verify", 1)["lso"], 0)
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


class VerificationDynamicTest(unittest.TestCase):
    """transaction.partition.verification.enable changed at run time, as in
    Kafka 4 (a dynamic broker config): the cluster default, then the
    broker's own value, each in force at the next Produce."""

    def test_turned_off_and_on_without_a_restart(self):
        key = "transaction.partition.verification.enable"
        b = Broker(sets={"node.id": 0}).start()
        try:
            create_topic(b.bootstrap, "dyn", 3)
            self.assertEqual(describe(b.port, BROKER, "0", keys=[key])[1][key][:2], ("true", 5))  # DEFAULT_CONFIG
            err, pid, epoch = init_producer_id(b.port, "dyn")
            self.assertEqual(err, NONE)
            self.assertEqual(add_partitions(b.port, "dyn", pid, epoch, "dyn", [0]), {0: NONE})
            self.assertEqual(produce(b.port, "dyn", 1, txn_batch(pid, epoch, 0, [b"x"]), "dyn")[0], INVALID_TXN_STATE)
            # Off for the cluster: partition 1 takes the batch.
            self.assertEqual(incremental_alter(b.port, BROKER, "", [(key, SET, "false")]), (0, None))
            self.assertEqual(describe(b.port, BROKER, "0", keys=[key])[1][key][:2], ("false", 3))
            self.assertEqual(produce(b.port, "dyn", 1, txn_batch(pid, epoch, 0, [b"x"]), "dyn")[0], NONE)
            # On again for this broker, over the cluster default: the first
            # batch of the transaction on partition 2 is verified (partition
            # 1's transaction, begun meanwhile, carries on, as in Kafka).
            self.assertEqual(incremental_alter(b.port, BROKER, "0", [(key, SET, "TRUE")]), (0, None))
            self.assertEqual(describe(b.port, BROKER, "0", keys=[key])[1][key][:2], ("TRUE", 2))
            self.assertEqual(produce(b.port, "dyn", 2, txn_batch(pid, epoch, 0, [b"y"]), "dyn")[0], INVALID_TXN_STATE)
            err, message = incremental_alter(b.port, BROKER, "", [(key, SET, "maybe")])
            self.assertEqual((err, message), (42, "Invalid value maybe for configuration %s: Expected value to be "
                                                  "either true or false" % key))
            self.assertEqual(incremental_alter(b.port, BROKER, "0", [(key, DELETE, None)])[0], 0)
            self.assertEqual(describe(b.port, BROKER, "0", keys=[key])[1][key][:2], ("false", 3))
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


class VerificationAclTest(unittest.TestCase):
    """AddPartitionsToTxn v4+ is for brokers: CLUSTER_ACTION on the cluster."""

    def test_v4_needs_cluster_action(self):
        denied = Broker(sets={"authorizer.class.name": AUTHORIZER}).start()  # User:ANONYMOUS, no ACLs
        allowed = Broker(sets={"authorizer.class.name": AUTHORIZER, "super.users": "User:ANONYMOUS"}).start()
        try:
            for version in (4, 5):
                error, results = add_partitions_v4(denied.port, [("any", 1, 0, True, {"t": [0]})], version=version)
                self.assertEqual((error, results), (CLUSTER_AUTHORIZATION_FAILED, {}))
            error, results = add_partitions_v4(allowed.port, [("any", 1, 0, True, {"t": [0]})])
            self.assertEqual(error, NONE)
            self.assertEqual(results, {"any": {("t", 0): UNKNOWN_TOPIC_OR_PARTITION}})
            self.assertTrue(denied.alive() and allowed.alive())
        finally:
            denied.cleanup()
            allowed.cleanup()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterVerificationTest(unittest.TestCase):
    """The partition's leader is not the transaction coordinator: it asks it
    over the inter-broker connection."""

    def test_leader_asks_the_coordinator_on_another_broker(self):
        from cluster import Cluster, wait_for
        from test_cluster_replication import FAST, states
        sets = dict(FAST, **{"transaction.state.log.num.partitions": 3})
        c = Cluster(3, sets=sets).start()
        try:
            a = admin(c.brokers[1].bootstrap)
            try:
                a.create_topics([NewTopic("cverify", 3, 3)])
            finally:
                a.close()
            self.assertTrue(wait_for(lambda: len(states(c.view(1, ["cverify"]), "cverify")) == 3))
            # A transactional id whose coordinator leads none of two partitions.
            txn_id, coordinator, leaders = None, None, None
            for i in range(50):
                candidate = "cv-%d" % i
                err, node, _ = find_coordinator(c.brokers[1].port, candidate)
                self.assertEqual(err, NONE)
                leaders = {p: s[1] for p, s in kproto.metadata(c.brokers[1].port, ["cverify"])[2]["cverify"][1]
                           .items()}
                if list(leaders.values()).count(node) <= 1:
                    txn_id, coordinator = candidate, node
                    break
            self.assertIsNotNone(txn_id)
            remote = [p for p, leader in leaders.items() if leader != coordinator]
            added, never = remote[0], remote[1]
            port_of = {n: b.port for n, b in c.brokers.items()}
            cport = port_of[coordinator]
            err, pid, epoch = init_producer_id(cport, txn_id)
            self.assertEqual(err, NONE)
            self.assertEqual(add_partitions(cport, txn_id, pid, epoch, "cverify", [added]), {added: NONE})
            # Never added, on a broker that is not the coordinator: refused, nothing stored.
            lport = port_of[leaders[never]]
            self.assertEqual(produce(lport, "cverify", never, txn_batch(pid, epoch, 0, [b"x"]), txn_id)[0],
                             INVALID_TXN_STATE)
            self.assertEqual(produce(lport, "cverify", never, txn_batch(pid, epoch, 0, [b"x"]), txn_id,
                                     version=11)[0], TRANSACTION_ABORTABLE)
            self.assertEqual(fetch(lport, "cverify", never, isolation=0)["hw"], 0)
            # Added: verified remotely and appended.
            aport = port_of[leaders[added]]
            self.assertEqual(produce(aport, "cverify", added, txn_batch(pid, epoch, 0, [b"a"]), txn_id)[0], NONE)
            self.assertEqual(end_txn(cport, txn_id, pid, epoch, False), NONE)
            self.assertTrue(wait_until(lambda: fetch(aport, "cverify", added)["lso"] == 2))
            # The late batch after the abort, on the remote leader: refused, nothing hangs.
            self.assertEqual(produce(aport, "cverify", added, txn_batch(pid, epoch, 1, [b"late"]), txn_id)[0],
                             INVALID_TXN_STATE)
            f = fetch(aport, "cverify", added)
            self.assertEqual((f["hw"], f["lso"]), (2, 2))
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main()
