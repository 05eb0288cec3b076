"""Regressions found by running librdkafka's own admin test (tests/0081-admin.c,
librdkafka 2.15.0, see tests/integration/README.md) against runnel: each case
is one deviation from Kafka 4.x that test showed, checked here with a client
`make test` has (confluent-kafka 1.7.0 on Debian's librdkafka 2.0.2, or raw
requests where that client has no API for it)."""
import unittest

from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from helpers import BrokerTestCase


def ck_admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def create_result(admin, new_topics, **options):
    """{topic: KafkaError code (0 for success)} of one CreateTopics."""
    out = {}
    for name, fut in admin.create_topics(new_topics, request_timeout=10, **options).items():
        try:
            fut.result(15)
            out[name] = 0
        except Exception as e:  # KafkaException carrying the topic's error
            out[name] = e.args[0].code()
    return out


class LibrdkafkaAdminTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1, "auto.create.topics.enable": "false", "connections.max.reauth.ms": 60000}

    def tearDown(self):
        self.assertBrokerAlive()

    def test_create_topics_validate_only_checks_configs(self):
        # 0081's "validate only" CreateTopics: a topic with an unknown config
        # fails with INVALID_CONFIG as it would when created for real, the
        # others pass, and nothing is created.
        admin = ck_admin(self.bootstrap)
        topics = [NewTopic("vo_ok", 3, 1),
                  NewTopic("vo_bad_cfg", 1, 1, config={"compression.type": "lz4", "dummy.doesntexist": "x"}),
                  NewTopic("vo_bad_value", 1, 1, config={"cleanup.policy": "sometimes"}),
                  NewTopic("vo_rf", 1, 3),
                  NewTopic("vo_assign", 2, replica_assignment=[[0], [7]])]
        got = create_result(admin, topics, validate_only=True)
        self.assertEqual(got, {"vo_ok": 0, "vo_bad_cfg": KafkaError.INVALID_CONFIG,
                               "vo_bad_value": KafkaError.INVALID_CONFIG,
                               "vo_rf": KafkaError.INVALID_REPLICATION_FACTOR,
                               "vo_assign": KafkaError.INVALID_REPLICA_ASSIGNMENT})
        md = admin.list_topics(timeout=10)
        for name in got:
            self.assertNotIn(name, md.topics)
        # The same creations for real agree with the validation.
        got = create_result(admin, topics[:2])
        self.assertEqual(got, {"vo_ok": 0, "vo_bad_cfg": KafkaError.INVALID_CONFIG})
        got = create_result(admin, [NewTopic("vo_ok", 1, 1)], validate_only=True)
        self.assertEqual(got, {"vo_ok": KafkaError.TOPIC_ALREADY_EXISTS})

    def test_describe_broker_configs_has_connections_max_reauth_ms(self):
        # 0142-reauthentication reads it with DescribeConfigs to learn the
        # session lifetime (and skips when no broker reports it); Kafka lists
        # it with every broker config.
        admin = ck_admin(self.bootstrap)
        fut = admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "0")], request_timeout=10)
        entries = list(fut.values())[0].result(15)
        entry = entries["connections.max.reauth.ms"]
        self.assertEqual(entry.value, "60000")
        self.assertTrue(entry.is_read_only)
        self.assertEqual(entry.source, ConfigSource.STATIC_BROKER_CONFIG.value)


if __name__ == "__main__":
    unittest.main()
