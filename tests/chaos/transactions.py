"""The chaos harness's transactional workload: producers that write each transaction's
records over the partitions of TXN_TOPIC and then commit or abort it, a read_committed
reader that reads them while the nemesis runs, and the final reads. The checker's
check_transactions proves, on the history they record:

  txn-lost              every record of a committed transaction is visible to
                        read_committed, at the offset its delivery report gave
  txn-aborted-visible   no record of an aborted transaction is visible to read_committed,
                        in the final read or in any read while the nemesis runs
  txn-partial           a transaction whose outcome the client could not learn is visible
                        whole or not at all
  txn-duplicate         no record is visible twice
  txn-read-vanished     a read_committed reader never saw a record the final read does
                        not hold at that offset
  lso-stuck             once every producer has ended its transactions, the last stable
                        offset reaches the high watermark (no hanging transaction)

and, for the copier (exactly-once consume-transform-produce from the `chaos` topic):

  copy-lost             every source record below the group's final committed offset is
                        in the read_committed copy
  copy-duplicate        none is there twice
  copy-beyond-commit    none at or above the committed offset is there (the offsets and the
                        records commit together)
  copy-inconsistent     each copy holds the value the source's final log holds

The producers use librdkafka's transactional API as its documentation says an
application should: an abortable error aborts, a retriable one retries the same call, a
fatal one ends the producer and a new one with the same transactional.id fences it (the
coordinator then completes or aborts what the old one left open)."""
import collections
import time

from harness import CLOSING, H, KEEP, Worker, anomaly, kafka_conf, log

TXN_TOPIC = "chaos-txn"
TXN_PARTITIONS = 4
COPY_TOPIC = "chaos-copy"  # CopierWorker's output
COPY_GROUP = "chaos-copier"
TXN_TIMEOUT_MS = 15000  # transaction.timeout.ms: how long an abandoned transaction stays open


def producer_conf(bootstrap, proc):
    # librdkafka's eos debug lines (a few per transaction) say what a transaction that ends
    # badly went through: which request, which answer, which retry.
    return kafka_conf(bootstrap, proc, debug_contexts=("eos",), **{
        "transactional.id": proc, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
        "transaction.timeout.ms": TXN_TIMEOUT_MS, "message.timeout.ms": TXN_TIMEOUT_MS,
        "request.timeout.ms": 5000, "retry.backoff.ms": 100, "max.in.flight.requests.per.connection": 5})


class TransactionalWorker(Worker):
    """What both transactional workers do with their producer."""

    def new_producer(self, stopping=False):
        """A producer with its transactional id initialised, or None once the run is
        closing. stopping: at the end of the workload, only to fence the last producer
        (its InitProducerId makes the coordinator complete or abort what that one left
        open), tried for 30 s."""
        from confluent_kafka import KafkaException, Producer
        p = Producer(producer_conf(self.c.bootstrap, self.proc))
        deadline = time.time() + 30
        while (time.time() < deadline if stopping else not self.stop_flag.is_set()) and not CLOSING.is_set():
            try:
                p.init_transactions(20)
                H.add(f="txn-init", type="ok", proc=self.proc)
                return p
            except KafkaException as e:
                err = e.args[0]
                H.add(f="txn-init", type="fail", proc=self.proc, err=err.name())
                if err.fatal():
                    KEEP.append(p)  # never destroyed: see KEEP
                    p = Producer(producer_conf(self.c.bootstrap, self.proc))
                time.sleep(0.5)
        KEEP.append(p)
        return None

    def end(self, p, commit):
        """Commits or aborts the open transaction: (outcome, error name, producer unusable).
        outcome is "commit" or "abort" when librdkafka says the call succeeded, "unknown"
        when it could not tell."""
        from confluent_kafka import KafkaException
        deadline = time.time() + 60
        while True:
            try:
                if commit:
                    p.commit_transaction(20)
                    return "commit", None, False
                p.abort_transaction(20)
                return "abort", None, False
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    return "unknown", err.name(), True
                if commit and err.txn_requires_abort():
                    commit = False  # what the documentation prescribes: abort, then go on
                    continue
                if err.retriable() and time.time() < deadline:
                    continue  # the same call again; it resumes what the last one began
                return "unknown", err.name(), True

    def ended(self, p, kind, txn, outcome, err, unusable):
        """Records how transaction `txn` ended (f=kind: ok, or info when the outcome is
        unknown) and returns the producer to go on with: `p`, or a new one (None once
        the run is closing) when `p` is unusable."""
        H.add(f=kind, type="info" if outcome == "unknown" else "ok", proc=self.proc, txn=txn,
              outcome=outcome, err=err)
        if not unusable:
            return p
        log("%s: transaction %s ended %s (%s): a new producer" % (self.proc, txn, outcome, err))
        KEEP.append(p)
        return self.new_producer(stopping=self.stop_flag.is_set())


class TxnProducerWorker(TransactionalWorker):
    """Transactions of 1-6 keyed records each, most committed, some aborted on purpose.
    History: f="txn" invoke (its values and what it means to do), then ok (outcome commit or
    abort, known) or info (outcome unknown); f="txn-send" ok for each delivered record."""

    def work(self):
        from confluent_kafka import KafkaException

        def delivered(err, msg):
            if err is None:
                H.add(f="txn-send", type="ok", proc=self.proc, value=msg.value().decode(),
                      p=msg.partition(), o=msg.offset())
        p = self.new_producer()
        n = 0
        while p is not None and not self.stop_flag.is_set():
            n += 1
            txn = "%s.%d" % (self.proc, n)
            values = ["%s.%d" % (txn, i) for i in range(self.rng.randint(1, 6))]
            commit = self.rng.random() < 0.8
            H.add(f="txn", type="invoke", proc=self.proc, txn=txn, values=values,
                  action="commit" if commit else "abort")
            try:
                p.begin_transaction()
            except KafkaException as e:
                # nothing of this transaction was sent; the producer is unusable
                H.add(f="txn", type="ok", proc=self.proc, txn=txn, outcome="abort", err=e.args[0].name())
                KEEP.append(p)
                p = self.new_producer()
                continue
            failed = None
            for val in values:
                while failed is None:
                    try:
                        p.produce(TXN_TOPIC, key=("k%d" % self.rng.randrange(32)).encode(), value=val.encode(),
                                  on_delivery=delivered)
                        break
                    except BufferError:
                        p.poll(0.1)
                    except KafkaException as e:
                        failed = e.args[0]  # an abortable or fatal state: end the transaction
                if failed is not None:
                    break
                p.poll(0)
            if failed is not None and failed.fatal():
                outcome, err, unusable = "unknown", failed.name(), True
            else:
                outcome, err, unusable = self.end(p, commit and failed is None)
            p = self.ended(p, "txn", txn, outcome, err, unusable)
            time.sleep(self.rng.uniform(0.01, 0.05))
        if p is not None:
            KEEP.append(p)


class CopierWorker(TransactionalWorker):
    """Exactly-once consume-transform-produce, as librdkafka's transactions example and
    Kafka Streams do it: reads `source` read_committed in group COPY_GROUP and writes each
    record to COPY_TOPIC as "p/o:value", in a transaction that also commits the consumer's
    positions (send_offsets_to_transaction). A transaction that does not commit rewinds the
    consumer to the group's committed offsets (a new consumer in the same group).
    History: f="copy-txn" invoke (the records' p/o), then ok or info as f="txn"."""

    def __init__(self, name, cluster, rng, source):
        super().__init__(name, cluster, rng)
        self.source = source

    def new_consumer(self):
        from confluent_kafka import Consumer
        c = Consumer(kafka_conf(self.c.bootstrap, self.proc + "-consumer", **{
            "group.id": COPY_GROUP, "enable.auto.commit": False, "isolation.level": "read_committed",
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": 200, "enable.partition.eof": False}))
        c.subscribe([self.source])
        return c

    def copy(self, p, c, txn, msgs):
        """One transaction: (outcome, error name, producer unusable)."""
        from confluent_kafka import KafkaException, TopicPartition
        try:
            p.begin_transaction()
        except KafkaException as e:
            return "abort", e.args[0].name(), True  # nothing sent
        try:
            for m in msgs:
                while True:
                    try:
                        p.produce(COPY_TOPIC, key=m.key(), value=("%d/%d:%s" % (
                            m.partition(), m.offset(), m.value().decode())).encode())
                        break
                    except BufferError:
                        p.poll(0.1)
            # the offsets right after what this transaction copies (not the consumer's
            # position(), which a rebalance since consume() may have emptied)
            nexts = {}
            for m in msgs:
                nexts[m.partition()] = max(nexts.get(m.partition(), 0), m.offset() + 1)
            positions = [TopicPartition(self.source, sp, o) for sp, o in sorted(nexts.items())]
            deadline = time.time() + 60
            said = 0
            while True:
                try:
                    p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 20)
                    break
                except KafkaException as e:
                    err = e.args[0]
                    if not err.retriable() or err.txn_requires_abort() or err.fatal() or time.time() >= deadline:
                        raise  # the transaction is aborted (or, fatal, left to the coordinator)
                    if time.time() >= said + 5:
                        said = time.time()
                        log("%s: %s: send_offsets_to_transaction: %s (%s); again" % (self.proc, txn, err.name(), err.str()))
        except KafkaException as e:
            if e.args[0].fatal():
                return "unknown", e.args[0].name(), True
            return self.end(p, False)
        return self.end(p, True)

    def work(self):
        c = self.new_consumer()
        p = self.new_producer()
        n = 0
        while p is not None and not self.stop_flag.is_set():
            msgs = [m for m in c.consume(50, 0.5) if m.error() is None]
            if not msgs:
                continue
            n += 1
            txn = "%s.%d" % (self.proc, n)
            H.add(f="copy-txn", type="invoke", proc=self.proc, txn=txn,
                  records=["%d/%d" % (m.partition(), m.offset()) for m in msgs])
            outcome, err, unusable = self.copy(p, c, txn, msgs)
            p = self.ended(p, "copy-txn", txn, outcome, err, unusable)
            if outcome != "commit":
                # what was read is not copied: read it again from the committed offsets
                c.close()
                KEEP.append(c)
                c = self.new_consumer()
        if p is not None:
            KEEP.append(p)
        c.close()
        KEEP.append(c)


class TxnReaderWorker(Worker):
    """read_committed, every partition of TXN_TOPIC assigned from the beginning; starts
    over now and then. History: f="txn-read" (p, o, value, epoch)."""

    def work(self):
        from confluent_kafka import Consumer, TopicPartition
        epoch = 0
        while not self.stop_flag.is_set():
            epoch += 1
            c = Consumer(kafka_conf(self.c.bootstrap, self.proc, **{
                "group.id": "%s-%d" % (self.proc, epoch), "enable.auto.commit": False,
                "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 200, "enable.partition.eof": False}))
            c.assign([TopicPartition(TXN_TOPIC, p, 0) for p in range(TXN_PARTITIONS)])
            H.add(f="assign", type="ok", proc=self.proc, epoch=epoch, topic=TXN_TOPIC)
            until = time.time() + self.rng.uniform(20, 60)
            while time.time() < until and not self.stop_flag.is_set():
                for m in c.consume(100, 0.3):
                    if m.error() is None:
                        H.add(f="txn-read", type="ok", proc=self.proc, epoch=epoch, p=m.partition(),
                              o=m.offset(), value=m.value().decode())
            c.close()


def final_read(bootstrap, topic, partitions, kind, timeout=90):
    """After healing, with every producer stopped: waits until each partition's last
    stable offset (ListOffsets, read_committed) reaches its high watermark, then reads
    everything read_committed. History (kind "txn" or "copy"): f=kind+"-final-end" (p, hw,
    lso), f=kind+"-final" (p, o, value)."""
    from confluent_kafka import Consumer, TopicPartition

    def consumer(name, isolation):
        return Consumer(kafka_conf(bootstrap, name, **{
            "group.id": "chaos-" + name, "enable.auto.commit": False, "isolation.level": isolation,
            "auto.offset.reset": "earliest", "enable.partition.eof": False, "fetch.wait.max.ms": 100}))
    committed = consumer(kind + "-final", "read_committed")
    uncommitted = consumer(kind + "-final-hw", "read_uncommitted")
    KEEP.extend([committed, uncommitted])
    deadline = time.time() + timeout
    ends = {}
    for p in range(partitions):
        tp = TopicPartition(topic, p)
        hw = lso = None
        while time.time() < deadline:
            try:
                hw = uncommitted.get_watermark_offsets(tp, timeout=5)[1]
                lso = committed.get_watermark_offsets(tp, timeout=5)[1]
            except Exception:
                time.sleep(1)
                continue
            if lso >= hw:
                break
            time.sleep(1)
        ends[p] = (hw, lso)
        H.add(f=kind + "-final-end", type="ok" if hw is not None else "fail", p=p, hw=hw, lso=lso)
        if hw is None:
            anomaly("%s's final read: partition %d has no high watermark %d s after healing" % (topic, p, timeout))
    readable = {p: lso for p, (hw, lso) in ends.items() if lso is not None}
    got = collections.defaultdict(dict)
    committed.assign([TopicPartition(topic, p, 0) for p in readable])
    # read_committed hides aborted records and markers, so a partition's last offset read
    # may stay below its LSO; the consumer's position moves past them, though: read until
    # every position reaches its LSO (or, failing that, nothing comes for a few seconds).
    idle_until = time.time() + 20  # the first records may take a metadata round or two
    stop_at = max(deadline, time.time() + 60)
    while time.time() < min(idle_until, stop_at):
        batch = committed.consume(500, 0.5)
        for m in batch:
            if m.error() is None and m.offset() < readable[m.partition()]:
                got[m.partition()][m.offset()] = m.value().decode()
        if batch:
            idle_until = time.time() + 5
        positions = committed.position([TopicPartition(topic, p) for p in readable])
        if all(readable[tp.partition] == 0 or tp.offset >= readable[tp.partition] for tp in positions):
            break
    for p in sorted(got):
        for o in sorted(got[p]):
            H.add(f=kind + "-final", type="ok", p=p, o=o, value=got[p][o])
    return ends


def copier_committed(bootstrap, source, partitions):
    """The copier group's committed offsets on `source`, once its last transaction is
    complete. History: f="copy-committed" (offsets: {p: offset}; -1 for none)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(kafka_conf(bootstrap, "copy-committed", **{"group.id": COPY_GROUP, "enable.auto.commit": False}))
    KEEP.append(c)
    deadline = time.time() + 60
    while True:
        try:
            res = c.committed([TopicPartition(source, p) for p in range(partitions)], timeout=5)
            offsets = {str(tp.partition): max(tp.offset, -1) for tp in res if tp.error is None}
            if len(offsets) == partitions:
                H.add(f="copy-committed", type="ok", offsets=offsets)
                return offsets
        except Exception as e:
            if time.time() > deadline:
                anomaly("the copier group's committed offsets could not be read: %s" % e)
                return None
        time.sleep(1)
