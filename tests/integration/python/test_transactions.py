"""Transactions (KIP-98, KIP-447) against the real broker, with confluent-kafka
(librdkafka 2.0.2): the transaction coordinator, its __transaction_state log,
markers, and transactional offset commits.

- init/begin/produce/commit and abort: read_committed sees the committed
  records only, read_uncommitted both; `runnel transactions list/describe`.
- a zombie: a second producer with the same transactional.id fences the
  first, whose open transaction is aborted; the first fails fatally.
- a transaction left open past its timeout is aborted by the broker (epoch
  bumped) and its records never become visible to read_committed.
- the coordinator's state survives kill -9 (a transaction in PrepareCommit is
  finished by the restarted broker; epochs keep growing).
- transactional offsets (send_offsets_to_transaction): committed with the
  COMMIT marker, pending (UNSTABLE_OFFSET_COMMIT for read_committed) while
  open, dropped on abort; the same after kill -9 (rebuilt from the log).
- consume-transform-produce with send_offsets_to_transaction, the app killed
  -9 at random points and the broker once: every input record exactly once in
  the output (read_committed), and the group's committed offsets at the end.
"""
import os
import random
import subprocess
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from broker import Broker
from helpers import create_topic

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNEL = os.environ.get("RUNNEL_BIN")


def txn_producer(bootstrap, txn_id, **kw):
    cfg = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
           "message.timeout.ms": 15000}
    cfg.update(kw)
    return Producer(cfg)


def read_all(bootstrap, topic, partitions=1, isolation="read_committed", timeout=10.0):
    """Every record of the topic's partitions up to the end visible to `isolation`."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-" + uuid.uuid4().hex,
                  "isolation.level": isolation, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out, eof = [], set()
        deadline = time.time() + timeout
        while len(eof) < partitions and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                continue
            out.append(m.value())
        return out
    finally:
        c.close()


def cli(bootstrap, *args):
    r = subprocess.run([RUNNEL, "transactions"] + list(args) + ["--bootstrap", bootstrap], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def describe(bootstrap, txn_id):
    """{column: value} of `runnel transactions describe`."""
    rc, out, err = cli(bootstrap, "describe", txn_id)
    assert rc == 0, err
    lines = out.strip().splitlines()
    return dict(zip(lines[0].split(), lines[1].split()))


def wait_state(bootstrap, txn_id, state, timeout=20.0):
    deadline = time.time() + timeout
    d = None
    while time.time() < deadline:
        d = describe(bootstrap, txn_id)
        if d["STATE"] == state:
            return d
        time.sleep(0.2)
    raise AssertionError("%s never reached %s: %r" % (txn_id, state, d))


class TransactionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(sets={"transaction.abort.timed.out.transaction.cleanup.interval.ms": 500,
                                  "group.initial.rebalance.delay.ms": 0}).start()
        cls.bootstrap = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def test_commit_and_abort(self):
        topic = "txn-basic"
        create_topic(self.bootstrap, topic)
        p = txn_producer(self.bootstrap, "basic")
        p.init_transactions(30)
        p.begin_transaction()
        for i in range(10):
            p.produce(topic, value=b"c%d" % i)
        p.commit_transaction(30)
        d = wait_state(self.bootstrap, "basic", "CompleteCommit")
        self.assertEqual(d["PRODUCER-EPOCH"], "0")
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, value=b"a%d" % i)
        p.flush(10)
        d = describe(self.bootstrap, "basic")
        self.assertEqual((d["STATE"], d["PARTITIONS"]), ("Ongoing", topic + "-0"))
        p.abort_transaction(30)
        wait_state(self.bootstrap, "basic", "CompleteAbort")
        p.begin_transaction()
        p.produce(topic, value=b"c10")
        p.commit_transaction(30)
        committed = read_all(self.bootstrap, topic)
        self.assertEqual(committed, [b"c%d" % i for i in range(11)])
        everything = read_all(self.bootstrap, topic, isolation="read_uncommitted")
        self.assertEqual(sorted(everything), sorted([b"c%d" % i for i in range(11)] + [b"a%d" % i for i in range(5)]))
        rc, out, _ = cli(self.bootstrap, "list")
        self.assertEqual(rc, 0)
        self.assertIn("basic", out)
        self.assertIn("CompleteCommit", out)

    def test_zombie_fenced(self):
        topic = "txn-zombie"
        create_topic(self.bootstrap, topic)
        old = txn_producer(self.bootstrap, "zombie")
        old.init_transactions(30)
        old.begin_transaction()
        old.produce(topic, value=b"zombie")
        old.flush(10)
        new = txn_producer(self.bootstrap, "zombie")
        new.init_transactions(30)  # aborts the old instance's transaction first
        self.assertEqual(describe(self.bootstrap, "zombie")["PRODUCER-EPOCH"], "2")
        new.begin_transaction()
        new.produce(topic, value=b"new")
        new.commit_transaction(30)
        with self.assertRaises(KafkaException) as e:
            old.produce(topic, value=b"zombie-2")
            old.commit_transaction(10)
        err = e.exception.args[0]
        self.assertTrue(err.fatal() or err.code() in (KafkaError._FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
                                                      KafkaError.PRODUCER_FENCED), err)
        self.assertEqual(read_all(self.bootstrap, topic), [b"new"])

    def test_timeout_aborts(self):
        topic = "txn-timeout"
        create_topic(self.bootstrap, topic)
        p = txn_producer(self.bootstrap, "slow", **{"transaction.timeout.ms": 2000, "message.timeout.ms": 2000})
        p.init_transactions(30)
        p.begin_transaction()
        p.produce(topic, value=b"late")
        p.flush(10)
        d = wait_state(self.bootstrap, "slow", "CompleteAbort", timeout=15)
        self.assertEqual(d["PRODUCER-EPOCH"], "1")  # fenced by the coordinator
        self.assertEqual(read_all(self.bootstrap, topic), [])
        self.assertEqual(read_all(self.bootstrap, topic, isolation="read_uncommitted"), [b"late"])
        with self.assertRaises(KafkaException):
            p.commit_transaction(10)

    def test_state_survives_kill9(self):
        topic = "txn-restart"
        create_topic(self.bootstrap, topic)
        p = txn_producer(self.bootstrap, "restart")
        p.init_transactions(30)
        p.begin_transaction()
        p.produce(topic, value=b"r0")
        p.commit_transaction(30)
        del p
        self.broker.kill9()
        self.broker.restart()
        d = describe(self.bootstrap, "restart")
        self.assertEqual((d["STATE"], d["PRODUCER-EPOCH"]), ("CompleteCommit", "0"))
        p = txn_producer(self.bootstrap, "restart")
        p.init_transactions(30)
        self.assertEqual(describe(self.bootstrap, "restart")["PRODUCER-EPOCH"], "1")
        p.begin_transaction()
        p.produce(topic, value=b"r1")
        p.commit_transaction(30)
        self.assertEqual(read_all(self.bootstrap, topic), [b"r0", b"r1"])


    def test_transactional_offsets_across_kill9(self):
        """TxnOffsetCommit: the offsets count once the COMMIT marker is in
        __consumer_offsets, also when the group coordinator reloads the
        partition after kill -9; an open transaction's offsets never do."""
        create_topic(self.bootstrap, "txn-offsets-in")

        def committed(isolation="read_committed"):
            # read_committed asks for stable offsets (KIP-447): it waits out a
            # transaction holding offsets of the partition.
            c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "txn-offsets",
                          "isolation.level": isolation})
            try:
                return c.committed([TopicPartition("txn-offsets-in", 0)], timeout=15)[0].offset
            finally:
                c.close()

        meta = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "txn-offsets"})
        group = meta.consumer_group_metadata()
        meta.close()
        p = txn_producer(self.bootstrap, "offsets")
        p.init_transactions(30)
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition("txn-offsets-in", 0, 5)], group, 30)
        p.commit_transaction(30)
        self.assertEqual(committed(), 5)
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition("txn-offsets-in", 0, 9)], group, 30)
        del p
        self.broker.kill9()
        self.broker.restart()
        self.assertEqual(committed("read_uncommitted"), 5)  # 9 is pending in the reloaded group
        p = txn_producer(self.bootstrap, "offsets")
        p.init_transactions(30)  # aborts the open one: its offsets are dropped
        self.assertEqual(committed(), 5)
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition("txn-offsets-in", 0, 7)], group, 30)
        p.commit_transaction(30)
        self.broker.kill9()
        self.broker.restart()
        self.assertEqual(committed(), 7)


def state_partitions(bootstrap):
    """The partition count of __transaction_state, from a Metadata request."""
    from confluent_kafka.admin import AdminClient
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return len(topics["__transaction_state"].partitions) if "__transaction_state" in topics else None


class TransactionStatePartitionsTest(unittest.TestCase):
    """__transaction_state's partition count: one per shard on a single node
    unless transaction.state.log.num.partitions says otherwise, and an
    existing topic's count kept whatever the setting says later (it decides
    where each transactional id's state is)."""

    def commit_one(self, bootstrap, topic, txn_id, value):
        p = txn_producer(bootstrap, txn_id)
        p.init_transactions(30)
        p.begin_transaction()
        p.produce(topic, value=value)
        p.commit_transaction(30)

    def test_one_per_shard_then_kept(self):
        with Broker(sets={"runnel.shards": 2}) as b:
            create_topic(b.bootstrap, "txn-layout")
            ids = ["layout-%d" % i for i in range(6)]
            for i, txn_id in enumerate(ids):
                self.commit_one(b.bootstrap, "txn-layout", txn_id, b"v%d" % i)
            self.assertEqual(state_partitions(b.bootstrap), 2)
            b.stop()
            b.sets["transaction.state.log.num.partitions"] = 7
            b.restart()
            self.assertEqual(state_partitions(b.bootstrap), 2)
            for txn_id in ids:  # found where they were written
                self.assertEqual(describe(b.bootstrap, txn_id)["STATE"], "CompleteCommit")
            self.commit_one(b.bootstrap, "txn-layout", ids[0], b"after")
            self.assertEqual(describe(b.bootstrap, ids[0])["PRODUCER-EPOCH"], "1")
            self.assertEqual(read_all(b.bootstrap, "txn-layout"), [b"v%d" % i for i in range(6)] + [b"after"])

    def test_configured_count(self):
        with Broker(sets={"runnel.shards": 2, "transaction.state.log.num.partitions": 3}) as b:
            create_topic(b.bootstrap, "txn-layout3")
            self.commit_one(b.bootstrap, "txn-layout3", "layout3", b"x")
            self.assertEqual(state_partitions(b.bootstrap), 3)
            self.assertEqual(read_all(b.bootstrap, "txn-layout3"), [b"x"])


class ConsumeTransformProduceTest(unittest.TestCase):
    def test_exactly_once_through_kills(self):
        n = 600
        with Broker(sets={"group.initial.rebalance.delay.ms": 0, "num.partitions": 2}) as b:
            create_topic(b.bootstrap, "ctp-in", 2)
            create_topic(b.bootstrap, "ctp-out", 2)
            p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
            for i in range(n):
                p.produce("ctp-in", key=b"k%d" % (i % 13), value=b"v%d" % i)
            p.flush(30)
            rng = random.Random(int(os.environ.get("TXN_SEED", "12")))
            args = [sys.executable, os.path.join(HERE, "txn_ctp_app.py"), b.bootstrap, "ctp-in", "ctp-out", "ctp",
                    "ctp-app", str(n)]
            runs, killed_broker = 0, False
            deadline = time.time() + 240
            while time.time() < deadline:
                runs += 1
                app = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if runs <= 6:
                    time.sleep(rng.uniform(2.0, 6.0))
                    if app.poll() is None:
                        app.kill()
                        app.wait()
                        if runs == 3 and not killed_broker:
                            killed_broker = True
                            b.kill9()
                            b.restart()
                        continue
                try:
                    rc = app.wait(120)
                except subprocess.TimeoutExpired:
                    app.kill()
                    app.wait()
                    continue
                if rc == 0:
                    break
            else:
                self.fail("the app never finished")
            self.assertTrue(killed_broker, "the app finished before the broker was killed: make it slower")
            out = read_all(b.bootstrap, "ctp-out", partitions=2, timeout=20)
            self.assertEqual(sorted(out), sorted(b"out-v%d" % i for i in range(n)), "runs: %d" % runs)
            c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "ctp"})
            try:
                committed = c.committed([TopicPartition("ctp-in", 0), TopicPartition("ctp-in", 1)], timeout=10)
                self.assertEqual(sum(tp.offset for tp in committed), n)
            finally:
                c.close()


if __name__ == "__main__":
    unittest.main()
