"""Every topic config Kafka 4.x documents (TopicConfig, plus the throttled
replica lists and the names Kafka 3.x still took) is accepted with a valid
value and refused with a bad one (INVALID_CONFIG), through CreateTopics and
AlterConfigs (kafka-python), and DescribeConfigs reports each with Kafka's
source (DEFAULT_CONFIG, STATIC_BROKER_CONFIG, DYNAMIC_TOPIC_CONFIG) and
synonyms. A compact-only topic is never cut by retention, as in Kafka."""
import time
import unittest

from kafka import errors as Errors
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from helpers import BrokerTestCase, consumer, producer, TopicPartition

# name -> (a valid value other than the default, a value Kafka refuses)
KAFKA_TOPIC_CONFIGS = {
    "cleanup.policy": ("compact,delete", "shred"),
    "compression.gzip.level": ("6", "0"),
    "compression.lz4.level": ("12", "18"),
    "compression.type": ("lz4", "brotli"),
    "compression.zstd.level": ("10", "23"),
    "delete.retention.ms": ("1000", "-1"),
    "file.delete.delay.ms": ("1000", "-5"),
    "flush.messages": ("1000", "0"),
    "flush.ms": ("1000", "-1"),
    "follower.replication.throttled.replicas": ("0:1,0:2", "broker-1"),
    "index.interval.bytes": ("8192", "-1"),
    "leader.replication.throttled.replicas": ("*", "0:x"),
    "local.retention.bytes": ("-2", "-3"),
    "local.retention.ms": ("1000", "-3"),
    "max.compaction.lag.ms": ("60000", "0"),
    "max.message.bytes": ("2000000", "-1"),
    "message.downconversion.enable": ("false", "maybe"),
    "message.format.version": ("3.0-IV1", "kafka"),
    "message.timestamp.after.max.ms": ("60000", "-1"),
    "message.timestamp.before.max.ms": ("60000", "-1"),
    "message.timestamp.difference.max.ms": ("60000", "-1"),
    "message.timestamp.type": ("LogAppendTime", "BrokerTime"),
    "min.cleanable.dirty.ratio": ("0.25", "1.5"),
    "min.compaction.lag.ms": ("1000", "-1"),
    "min.insync.replicas": ("1", "0"),
    "preallocate": ("true", "yes"),
    "remote.log.copy.disable": ("true", "1"),
    "remote.log.delete.on.disable": ("true", "1"),
    "remote.storage.enable": ("false", "true"),  # true: Kafka's answer without tiered storage
    "retention.bytes": ("1000000", "-2"),
    "retention.ms": ("3600000", "-2"),
    "segment.bytes": ("1048576", "13"),
    "segment.index.bytes": ("4096", "3"),
    "segment.jitter.ms": ("1000", "-1"),
    "segment.ms": ("3600000", "0"),
    "unclean.leader.election.enable": ("true", "perhaps"),
}

DYNAMIC_TOPIC, STATIC_BROKER, DEFAULT = 1, 4, 5


class TopicConfigNamesTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "log.retention.ms": 1234000, "log.retention.check.interval.ms": 300}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from helpers import admin
        cls.admin = admin(cls.bootstrap)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()

    def describe(self, topic, synonyms=False):
        """{name: (value, source, [(synonym, value, source)])} of a topic (DescribeConfigs v1)."""
        [resp] = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                             include_synonyms=synonyms)
        (err, _, _, name, entries) = resp.resources[0]
        self.assertEqual((err, name), (0, topic))
        out = {}
        for e in entries:
            out[e[0]] = (e[1], e[3], [tuple(s) for s in e[5]]) if synonyms else (e[1], None, [])
        return out

    def test_every_config_accepted_and_described(self):
        configs = {k: v for k, (v, _) in KAFKA_TOPIC_CONFIGS.items()}
        self.admin.create_topics([NewTopic("all_configs", 1, 1, topic_configs=configs)])
        described = self.describe("all_configs", synonyms=True)
        for name, value in configs.items():
            self.assertIn(name, described)
            self.assertEqual(described[name][0], value, name)
            self.assertEqual(described[name][1], DYNAMIC_TOPIC, name)
            self.assertEqual(described[name][2][0], (name, value, DYNAMIC_TOPIC), name)

    def test_every_bad_value_refused(self):
        for name, (_, bad) in KAFKA_TOPIC_CONFIGS.items():
            with self.subTest(name=name):
                with self.assertRaises(Errors.InvalidConfigurationError):  # 40
                    self.admin.create_topics([NewTopic("bad_" + name.replace(".", "_"), 1, 1,
                                                       topic_configs={name: bad})])
        # AlterConfigs validates the same way, and changes nothing when it refuses.
        self.admin.create_topics([NewTopic("alter_me", 1, 1, topic_configs={"retention.ms": "60000"})])
        for name, (_, bad) in KAFKA_TOPIC_CONFIGS.items():
            with self.subTest(alter=name):
                resp = self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "alter_me",
                                                                  configs={"retention.ms": "1000", name: bad})])
                self.assertEqual(resp.resources[0][0], Errors.InvalidConfigurationError.errno)
        self.assertEqual(self.describe("alter_me")["retention.ms"][0], "60000")
        resp = self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "alter_me",
                                                          configs={"flush.ms": "5000", "preallocate": "true"})])
        self.assertEqual(resp.resources[0][0], 0)
        d = self.describe("alter_me")
        self.assertEqual((d["flush.ms"][0], d["preallocate"][0]), ("5000", "true"))
        # AlterConfigs replaces the whole set: retention.ms is back to the broker's.
        self.assertEqual(d["retention.ms"][0], "1234000")

    def test_sources_and_synonyms(self):
        self.admin.create_topics([NewTopic("plain", 1, 1, topic_configs={"segment.ms": "3600000"})])
        d = self.describe("plain", synonyms=True)
        # Set on the topic.
        self.assertEqual(d["segment.ms"], ("3600000", DYNAMIC_TOPIC, [("segment.ms", "3600000", DYNAMIC_TOPIC),
                                                                      ("log.roll.ms", "604800000", DEFAULT)]))
        # Set on the broker (log.retention.ms), not on the topic.
        self.assertEqual(d["retention.ms"], ("1234000", STATIC_BROKER, [("log.retention.ms", "1234000", STATIC_BROKER),
                                                                        ("log.retention.ms", "604800000", DEFAULT)]))
        # Kafka's defaults, including those runnel does not act on.
        self.assertEqual(d["cleanup.policy"], ("delete", DEFAULT, [("log.cleanup.policy", "delete", DEFAULT)]))
        self.assertEqual(d["min.cleanable.dirty.ratio"][:2], ("0.5", DEFAULT))
        self.assertEqual(d["flush.messages"][:2], ("9223372036854775807", DEFAULT))
        self.assertEqual(d["compression.type"][:2], ("producer", DEFAULT))
        self.assertEqual(set(KAFKA_TOPIC_CONFIGS) - set(d), set())

    def test_compact_only_topic_is_not_cut_by_retention(self):
        """retention.ms applies with the delete policy only: of two topics with
        old records and tiny segments, the compacted one keeps them all."""
        old = int(time.time() * 1000) - 3600 * 1000
        for topic, policy in (("cut", "delete"), ("kept", "compact")):
            self.admin.create_topics([NewTopic(topic, 1, 1, topic_configs={
                "cleanup.policy": policy, "retention.ms": "60000", "segment.bytes": "16384"})])
            p = producer(self.bootstrap, acks="all", linger_ms=0, batch_size=2048)
            for i in range(200):
                p.send(topic, key=b"k%d" % (i % 10), value=b"v-%04d-" % i + b"x" * 200, timestamp_ms=old,
                       partition=0)
            p.flush(10)
            p.close(5)

        def start(topic):
            c = consumer(self.bootstrap)
            tp = TopicPartition(topic, 0)
            try:
                return c.beginning_offsets([tp])[tp]
            finally:
                c.close()
        deadline = time.time() + 15
        while time.time() < deadline and start("cut") == 0:
            time.sleep(0.2)
        self.assertGreater(start("cut"), 0, "retention deleted nothing of the delete-policy topic")
        time.sleep(1.0)  # a few more retention checks
        self.assertEqual(start("kept"), 0)


if __name__ == "__main__":
    unittest.main()
