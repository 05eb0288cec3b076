"""Power loss on one node (issue 11): the broker runs with --fault-injection,
which sends every file operation through the fault-injecting Env; SIGUSR2 then
drops every write that was not fdatasync'd and ends the process, as a power cut
would. Under acks=all produce load (librdkafka) and group offset commits, the
power is cut at random points, many times; after every restart each
acknowledged record must be at its acknowledged offset and each acknowledged
commit must still be there (or a later one), and recovery must never fail."""
import os
import random
import signal
import threading
import time
import unittest
import urllib.request

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from broker import Broker, free_port
from helpers import create_topic, read_partition

TOPIC = "power"
PARTITIONS = 4
GROUP = "power-group"
CYCLES = int(os.environ.get("POWER_LOSS_CYCLES", "6"))
SEED = int(os.environ.get("POWER_LOSS_SEED", "20261201"))
POWER_CUT_EXIT_CODE = 99


class PowerLossTest(unittest.TestCase):
    # Broker settings of this variant, on top of the common ones.
    EXTRA_SETS = {}
    CYCLE_COUNT = CYCLES

    def setUp(self):
        # Small segments: cuts land during rolls, index writes and checkpoints too.
        sets = {"num.partitions": PARTITIONS, "log.segment.bytes": 65536}
        sets.update(self.EXTRA_SETS)
        self.broker = Broker(sets=sets, args=["--fault-injection"]).start()
        create_topic(self.broker.bootstrap, TOPIC, PARTITIONS)

    def _before_cut(self):
        """Called just before each power cut (the variant below reads metrics)."""

    def tearDown(self):
        self.broker.cleanup()

    def _load_until_cut(self, cycle, cut_after, acked, commits):
        """Produces (acks=all) and commits group offsets until the power is cut
        `cut_after` seconds in; records what was acknowledged."""
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 2,
                             "message.timeout.ms": 4000, "retries": 0, "socket.timeout.ms": 3000})
        committer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                              "enable.auto.commit": False})
        lock = threading.Lock()

        def on_delivery(err, msg):
            if err is None:
                with lock:
                    acked.append((msg.partition(), msg.offset(), msg.value()))

        stop = threading.Event()

        def commit_loop():
            n = 0
            while not stop.is_set():
                n += 1
                p = n % PARTITIONS
                offset = cycle * 100000 + n  # increases across cycles
                try:
                    committer.commit(offsets=[TopicPartition(TOPIC, p, offset)], asynchronous=False)
                except KafkaException:
                    continue  # not acknowledged: nothing to check
                with lock:
                    commits[p] = max(commits.get(p, -1), offset)
                time.sleep(0.005)

        committing = threading.Thread(target=commit_loop)
        committing.start()
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < cut_after:
            try:
                producer.produce(TOPIC, value=b"c%d-%d" % (cycle, i), partition=i % PARTITIONS,
                                 on_delivery=on_delivery)
                i += 1
            except BufferError:
                producer.poll(0.01)
            if i % 100 == 0:
                producer.poll(0)
                time.sleep(0.002)
        self._before_cut()
        os.kill(self.broker.proc.pid, signal.SIGUSR2)
        rc = self.broker.wait_exit(30)
        stop.set()
        self.assertEqual(rc, POWER_CUT_EXIT_CODE, "the broker did not cut its power:\n" + self.broker.log())
        # Recovery must succeed every time, on whatever the cut left. The
        # clients carry on against it: what they get acknowledged now counts
        # too (a synchronous commit waits for the coordinator to return).
        self.broker.restart()
        producer.flush(10)
        committing.join(30)
        committer.close()
        return i

    def test_acknowledged_records_and_commits_survive_power_cuts(self):
        rng = random.Random(SEED)
        acked, commits = [], {}
        sent = 0
        for cycle in range(self.CYCLE_COUNT):
            sent += self._load_until_cut(cycle, rng.uniform(0.5, 2.5), acked, commits)
        self.assertGreater(len(acked), 1000, "too little was acknowledged to test anything")

        by_partition = {}
        for p, off, value in acked:
            by_partition.setdefault(p, {})
            self.assertNotIn(off, by_partition[p], "offset %d-%d acknowledged twice" % (p, off))
            by_partition[p][off] = value
        for p, expected in sorted(by_partition.items()):
            log = {r.offset: r.value for r in read_partition(self.broker.bootstrap, TOPIC, p)}
            for off, value in sorted(expected.items()):
                self.assertEqual(log.get(off), value,
                                 "acknowledged record %d-%d lost or changed after a power cut" % (p, off))

        reader = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                           "enable.auto.commit": False})
        try:
            committed = reader.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=15)
        finally:
            reader.close()
        for tp in committed:
            if tp.partition in commits:
                self.assertGreaterEqual(tp.offset, commits[tp.partition],
                                        "acknowledged commit of partition %d lost" % tp.partition)
        print("power cuts: %d, records sent %d, acknowledged %d, commits acknowledged up to %s" %
              (self.CYCLE_COUNT, sent, len(acked), commits))


class CountsAMetricBeforeCuts:
    """For variants whose setting shows in one /metrics counter: the broker
    gets an admin listener, the counter is summed just before each cut (it
    restarts from 0 with the broker), and the variant fails if it stayed 0,
    since it would then have tested nothing the plain cuts do not."""
    CYCLE_COUNT = max(1, CYCLES // 2)
    SETS = {}
    METRIC = ""

    def setUp(self):
        self.admin_port = free_port()
        self.EXTRA_SETS = dict(self.SETS, **{"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port})
        self.metric_total = 0
        super().setUp()

    def _before_cut(self):
        url = "http://127.0.0.1:%d/metrics" % self.admin_port
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(self.METRIC):
                    self.metric_total += int(float(line.split()[-1]))

    def test_acknowledged_records_and_commits_survive_power_cuts(self):
        super().test_acknowledged_records_and_commits_survive_power_cuts()
        print("%s before the cuts: %d" % (self.METRIC, self.metric_total))
        self.assertGreater(self.metric_total, 0, "%s stayed 0: this variant tested nothing new" % self.METRIC)


class PowerLossThroughSyncfsTest(CountsAMetricBeforeCuts, PowerLossTest):
    """The same cuts with the flusher making queued requests durable with one
    syncfs of the data dir's file system as soon as two wait (the default waits
    for 64, which this load rarely queues): an acknowledgement must then mean
    the same as after each file's own fdatasync."""
    SETS = {"runnel.flush.syncfs.min.requests": 2}
    METRIC = "runnel_syncfs_requests_count"


def _thread_count(broker):
    return len(os.listdir("/proc/%d/task" % broker.proc.pid))


class PowerLossWithOneFlusherThreadTest(PowerLossTest):
    """The same cuts with `runnel.flush.threads=1`: every partition's sync
    waits for the one flusher thread, so acknowledgements queue behind each
    other's fdatasyncs; an acknowledgement must still mean the data is on
    disk."""
    CYCLE_COUNT = max(1, CYCLES // 2)
    EXTRA_SETS = {"runnel.flush.threads": 1}

    def setUp(self):
        default = Broker(sets={"num.partitions": PARTITIONS}).start()
        try:
            default_threads = _thread_count(default)
        finally:
            default.cleanup()
        super().setUp()
        # The setting took: this broker runs 7 flusher threads fewer than the
        # default's 8 (counted idle, right after start, like the default's).
        self.assertLess(_thread_count(self.broker), default_threads)


class PowerLossWithPageCacheDropsTest(CountsAMetricBeforeCuts, PowerLossTest):
    """The same cuts with `runnel.page.cache.tail.bytes` set, so that the
    flusher lets synced log bytes go from the page cache after each sync
    (every sealed 64 KiB segment here): the advice must follow the sync it
    belongs to, never precede it, and recovery and reads must find every
    acknowledged record on the disk."""
    SETS = {"runnel.page.cache.tail.bytes": 4096}
    METRIC = "runnel_page_cache_drops_total"


class TransactionsSurvivePowerCutsTest(unittest.TestCase):
    """Transactions, committed and aborted, with the power cut at random
    points (one transaction open at each cut): afterwards a read_committed
    consumer reading from offset 0 must get every record of every committed
    transaction and none of an aborted one. Small segments, so that cuts land
    between rolls, snapshots and aborted-transaction index writes; the
    aborted-transaction index is what hides aborted records, and a lost entry
    makes them visible."""
    TOPIC = "power-txn"

    def setUp(self):
        self.broker = Broker(sets={"num.partitions": 1, "log.segment.bytes": 4096},
                             args=["--fault-injection"]).start()
        create_topic(self.broker.bootstrap, self.TOPIC, 1)

    def tearDown(self):
        self.broker.cleanup()

    def _producer(self):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "transactional.id": "power-txn",
                      "linger.ms": 1, "transaction.timeout.ms": 10000})
        p.init_transactions(30)  # aborts what a previous instance left open
        return p

    def test_read_committed_sees_every_committed_and_no_aborted_record_after_power_cuts(self):
        rng = random.Random(SEED)
        aborted = {}  # value -> whether its transaction was aborted (outcome acknowledged)
        for cycle in range(max(2, CYCLES // 2)):
            p = self._producer()
            deadline = time.monotonic() + rng.uniform(0.5, 2.5)
            n = 0
            while time.monotonic() < deadline:
                p.begin_transaction()
                values = [b"c%d-t%d-%d" % (cycle, n, i) for i in range(rng.randint(1, 10))]
                for v in values:
                    p.produce(self.TOPIC, value=v, partition=0)
                abort = rng.random() < 0.6
                p.flush(10)  # in the log before the marker (an abort purges what is still queued)
                if abort:
                    p.abort_transaction(30)
                else:
                    p.commit_transaction(30)
                aborted.update((v, abort) for v in values)
                n += 1
            p.begin_transaction()
            for i in range(3):
                p.produce(self.TOPIC, value=b"c%d-open-%d" % (cycle, i), partition=0)
            p.flush(10)
            os.kill(self.broker.proc.pid, signal.SIGUSR2)
            rc = self.broker.wait_exit(30)
            self.assertEqual(rc, POWER_CUT_EXIT_CODE, "the broker did not cut its power:\n" + self.broker.log())
            p.purge()
            del p
            self.broker.restart()
        self._producer()  # the last open transaction is aborted
        self.assertGreater(sum(aborted.values()), 20, "too few aborted transactions to test anything")

        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "power-txn-reader",
                      "isolation.level": "read_committed", "enable.auto.commit": False})
        tp = TopicPartition(self.TOPIC, 0, 0)
        try:
            c.assign([tp])
            seen = set()
            _, high = c.get_watermark_offsets(tp, timeout=10)  # nothing is written any more
            deadline = time.monotonic() + 30
            while c.position([tp])[0].offset < high:
                self.assertLess(time.monotonic(), deadline, "read_committed stopped at %d of %d" %
                                (c.position([tp])[0].offset, high))
                for m in c.consume(500, 0.5):
                    if m.error() is None:
                        seen.add(m.value())
        finally:
            c.close()
        visible = sorted(v for v in seen if aborted.get(v, True))
        self.assertEqual(visible, [], "records of aborted (or never committed) transactions read as committed")
        missing = sorted(v for v, was_aborted in aborted.items() if not was_aborted and v not in seen)
        self.assertEqual(missing, [], "records of committed transactions lost")
        print("transactions with power cuts: %d aborted and %d committed records checked" %
              (sum(aborted.values()), len(aborted) - sum(aborted.values())))


if __name__ == "__main__":
    unittest.main()
