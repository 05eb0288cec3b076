"""Shared helpers for the kafka-python suites: one broker per test module,
clients with short timeouts, and a consumer that reads a partition to its end
without consumer groups (assign + seek)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from broker import Broker  # noqa: E402

COMMON = dict(request_timeout_ms=10000, api_version_auto_timeout_ms=5000, reconnect_backoff_ms=50,
              reconnect_backoff_max_ms=500)


def producer(bootstrap, **kw):
    cfg = dict(COMMON, bootstrap_servers=bootstrap, linger_ms=5, max_block_ms=10000)
    cfg.update(kw)
    return KafkaProducer(**cfg)


def consumer(bootstrap, **kw):
    cfg = dict(COMMON, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
               fetch_max_wait_ms=100, auto_offset_reset="earliest")
    cfg.update(kw)
    return KafkaConsumer(**cfg)


def admin(bootstrap, **kw):
    cfg = dict(COMMON, bootstrap_servers=bootstrap)
    cfg.update(kw)
    return KafkaAdminClient(**cfg)


def create_topic(bootstrap, name, partitions=1, configs=None):
    a = admin(bootstrap)
    try:
        a.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
    finally:
        a.close()
    wait_for_partitions(bootstrap, name, partitions)


def wait_for_partitions(bootstrap, name, partitions, timeout=10.0):
    c = consumer(bootstrap)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            c._client.cluster.request_update()
            c._client.poll(timeout_ms=200)
            ps = c.partitions_for_topic(name)
            if ps is not None and len(ps) == partitions:
                return
            time.sleep(0.1)
        raise AssertionError("topic %s did not get %d partitions (have %r)" % (name, partitions, ps))
    finally:
        c.close()


def read_partition(bootstrap, topic, partition, start=0, timeout=15.0, c=None):
    """All records of topic/partition from `start` to the current end offset."""
    own = c is None
    if own:
        c = consumer(bootstrap)
    tp = TopicPartition(topic, partition)
    try:
        c.assign([tp])
        end = c.end_offsets([tp])[tp]
        c.seek(tp, start)
        out = []
        deadline = time.time() + timeout
        while c.position(tp) < end:
            if time.time() > deadline:
                raise AssertionError("timed out reading %s-%d: got %d records, position %d, end %d"
                                     % (topic, partition, len(out), c.position(tp), end))
            for recs in c.poll(timeout_ms=200).values():
                out.extend(recs)
        return out
    finally:
        if own:
            c.close()


def read_with_librdkafka(bootstrap, topic, partition, count, start=0, timeout=10.0):
    """Up to `count` records of topic/partition from `start`, read by
    librdkafka (Debian's confluent-kafka) rather than kafka-python: a second
    client's decoder for what a test wrote."""
    from confluent_kafka import Consumer as RdConsumer, TopicPartition as RdTopicPartition
    c = RdConsumer({"bootstrap.servers": bootstrap, "group.id": "read-with-librdkafka",
                    "enable.auto.commit": False})
    c.assign([RdTopicPartition(topic, partition, start)])
    out = []
    deadline = time.time() + timeout
    try:
        while len(out) < count and time.time() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append(m)
    finally:
        c.close()
    return out


class BrokerTestCase(unittest.TestCase):
    """One broker for all tests of the class."""
    broker_sets = {"num.partitions": 1}

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(sets=cls.broker_sets).start()
        cls.bootstrap = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def assertBrokerAlive(self):
        if not self.broker.alive():
            rc = self.broker.proc.poll() if self.broker.proc is not None else None
            self.fail("broker process exited (returncode %r; negative = signal); log tail:\n%s"
                      % (rc, self.broker.log()))
