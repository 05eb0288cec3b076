"""KafkaAdminClient against runnel: topics, partitions, configs, and the errors
Kafka returns for bad requests."""
import unittest

from kafka import errors as Errors
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

from helpers import BrokerTestCase, admin, consumer, create_topic, producer, read_partition, wait_for_partitions


def topic_errors(resp):
    errs = resp.topic_errors if hasattr(resp, "topic_errors") else resp.topic_error_codes
    return {e[0]: e[1] for e in errs}


class AdminTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "auto.create.topics.enable": "false"}

    def setUp(self):
        self.admin = admin(self.bootstrap)

    def tearDown(self):
        self.admin.close()
        self.assertBrokerAlive()

    def topics(self):
        c = consumer(self.bootstrap)
        try:
            return c.topics()
        finally:
            c.close()

    def test_create_and_delete_topics(self):
        resp = self.admin.create_topics([NewTopic("adm_a", 3, 1), NewTopic("adm_b", 1, 1)])
        self.assertEqual(topic_errors(resp), {"adm_a": 0, "adm_b": 0})
        wait_for_partitions(self.bootstrap, "adm_a", 3)
        self.assertIn("adm_a", self.admin.list_topics())
        self.assertIn("adm_b", self.admin.list_topics())
        desc = {t["topic"]: t for t in self.admin.describe_topics(["adm_a"])}
        self.assertEqual(desc["adm_a"]["error_code"], 0)
        self.assertEqual(sorted(p["partition"] for p in desc["adm_a"]["partitions"]), [0, 1, 2])
        resp = self.admin.delete_topics(["adm_a", "adm_b"])
        self.assertEqual(topic_errors(resp), {"adm_a": 0, "adm_b": 0})
        self.assertNotIn("adm_a", self.topics())
        self.assertNotIn("adm_b", self.topics())

    def test_create_existing_topic_fails(self):
        create_topic(self.bootstrap, "adm_dup")
        with self.assertRaises(Errors.TopicAlreadyExistsError):  # 36
            self.admin.create_topics([NewTopic("adm_dup", 1, 1)])

    def test_delete_unknown_topic_fails(self):
        with self.assertRaises(Errors.UnknownTopicOrPartitionError):  # 3
            self.admin.delete_topics(["adm_never_created"])

    def test_recreate_after_delete_is_empty(self):
        create_topic(self.bootstrap, "adm_recreate")
        p = producer(self.bootstrap, acks="all")
        for i in range(5):
            p.send("adm_recreate", value=b"old%d" % i, partition=0)
        p.flush(10)
        p.close(5)
        self.admin.delete_topics(["adm_recreate"])
        create_topic(self.bootstrap, "adm_recreate")
        self.assertEqual(read_partition(self.bootstrap, "adm_recreate", 0), [])
        p = producer(self.bootstrap, acks="all")
        m = p.send("adm_recreate", value=b"new", partition=0).get(10)
        p.close(5)
        self.assertEqual(m.offset, 0)

    def test_invalid_topic_names(self):
        for name in ("bad name", "bad/name", "..", ".", "x" * 250, "ümlaut"):
            with self.subTest(name=name):
                with self.assertRaises(Errors.InvalidTopicError):  # 17
                    self.admin.create_topics([NewTopic(name, 1, 1)])
        self.assertFalse({"bad name", "bad/name", ".."} & self.topics())

    def test_invalid_partition_count(self):
        with self.assertRaises(Errors.InvalidPartitionsError):  # 37
            self.admin.create_topics([NewTopic("adm_zero_parts", 0, 1)])

    def test_invalid_replication_factor(self):
        # a single broker cannot hold 3 replicas: INVALID_REPLICATION_FACTOR (38)
        with self.assertRaises(Errors.InvalidReplicationFactorError):
            self.admin.create_topics([NewTopic("adm_rf3", 1, 3)])

    def test_create_partitions(self):
        create_topic(self.bootstrap, "adm_grow", partitions=2)
        resp = self.admin.create_partitions({"adm_grow": NewPartitions(5)})
        self.assertEqual(topic_errors(resp), {"adm_grow": 0})
        wait_for_partitions(self.bootstrap, "adm_grow", 5)
        p = producer(self.bootstrap, acks="all")
        m = p.send("adm_grow", value=b"p4", partition=4).get(10)
        p.close(5)
        self.assertEqual((m.partition, m.offset), (4, 0))
        self.assertEqual([r.value for r in read_partition(self.bootstrap, "adm_grow", 4)], [b"p4"])
        # shrinking or staying equal is INVALID_PARTITIONS (37)
        with self.assertRaises(Errors.InvalidPartitionsError):
            self.admin.create_partitions({"adm_grow": NewPartitions(3)})
        with self.assertRaises(Errors.InvalidPartitionsError):
            self.admin.create_partitions({"adm_grow": NewPartitions(5)})
        with self.assertRaises(Errors.UnknownTopicOrPartitionError):
            self.admin.create_partitions({"adm_no_such_topic": NewPartitions(3)})

    def _describe_topic(self, name, keys=None):
        [resp] = self.admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=dict.fromkeys(keys) if keys else None)])
        self.assertEqual(len(resp.resources), 1)
        res = resp.resources[0]
        return res[0], res[3], {e[0]: e[1] for e in res[4]}

    def test_describe_configs(self):
        create_topic(self.bootstrap, "adm_cfg", configs={"retention.ms": "123456", "max.message.bytes": "20000",
                                                         "segment.bytes": "1048576"})
        err, name, cfg = self._describe_topic("adm_cfg")
        self.assertEqual((err, name), (0, "adm_cfg"))
        self.assertEqual(cfg.get("retention.ms"), "123456")
        self.assertEqual(cfg.get("max.message.bytes"), "20000")
        self.assertEqual(cfg.get("segment.bytes"), "1048576")
        self.assertEqual(cfg.get("cleanup.policy"), "delete")
        for key in ("segment.bytes", "retention.bytes", "compression.type", "min.insync.replicas"):
            self.assertIn(key, cfg)
        # asking for a subset returns exactly that subset
        err, _, cfg = self._describe_topic("adm_cfg", ["retention.ms"])
        self.assertEqual(cfg, {"retention.ms": "123456"})

    def test_describe_configs_defaults(self):
        create_topic(self.bootstrap, "adm_cfg_default")
        _, _, cfg = self._describe_topic("adm_cfg_default")
        self.assertEqual(cfg.get("cleanup.policy"), "delete")
        self.assertEqual(cfg.get("retention.ms"), str(7 * 24 * 3600 * 1000))
        self.assertEqual(cfg.get("compression.type"), "producer")

    def test_describe_configs_unknown_topic(self):
        err, _, _ = self._describe_topic("adm_cfg_missing")
        self.assertEqual(err, Errors.UnknownTopicOrPartitionError.errno)

    def test_invalid_topic_config(self):
        with self.assertRaises((Errors.InvalidConfigurationError, Errors.InvalidRequestError)):  # 40 / 42
            self.admin.create_topics([NewTopic("adm_badcfg", 1, 1, topic_configs={"retention.ms": "banana"})])

    def test_message_too_large(self):
        create_topic(self.bootstrap, "adm_small", configs={"max.message.bytes": "1000"})
        p = producer(self.bootstrap, acks=1, linger_ms=0)
        try:
            fut = p.send("adm_small", value=b"x" * 5000, partition=0)
            with self.assertRaises(Errors.MessageSizeTooLargeError):  # 10 from the broker
                fut.get(timeout=10)
            # small records are still accepted, at offset 0
            m = p.send("adm_small", value=b"ok", partition=0).get(10)
            self.assertEqual(m.offset, 0)
        finally:
            p.close(5)
        self.assertEqual([r.value for r in read_partition(self.bootstrap, "adm_small", 0)], [b"ok"])

    def test_produce_to_unknown_topic_without_autocreate(self):
        p = producer(self.bootstrap, acks=1, max_block_ms=1500)
        try:
            with self.assertRaises(Errors.KafkaTimeoutError):  # metadata never shows the topic
                p.send("adm_not_auto_created", value=b"x").get(5)
        finally:
            p.close(2)
        self.assertNotIn("adm_not_auto_created", self.topics())


if __name__ == "__main__":
    unittest.main()
