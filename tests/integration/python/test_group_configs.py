"""Group configs (Kafka 4's GROUP config resource, KIP-848; kafka-configs.sh
--entity-type groups): consumer.session.timeout.ms and
consumer.heartbeat.interval.ms set on one group with IncrementalAlterConfigs
or AlterConfigs, read with DescribeConfigs (source and synonyms), checked as
Kafka checks them (names, INT >= 1, the broker's group.consumer.min/max
bounds, session above heartbeat), in force at the group's members' next
ConsumerGroupHeartbeat (the interval answered, the session after which a
silent member is fenced), kept across a restart, reaching the other brokers
of a cluster, guarded by ACLs on the group, and from `runnel group
describe-config|alter-config`. The broker's own group.consumer.* timings are
checked at start-up as Kafka does."""
import subprocess
import time
import unittest

import kproto
from broker import Broker, wait_port
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, create_topic
from test_acls import secured_broker, runnel, USERS
from test_broker_configs import describe, incremental_alter, roundtrip

GROUP = 32
SET, DELETE, APPEND = 0, 1, 2
STATIC, DEFAULT, DYNAMIC_GROUP = 4, 5, 8
INVALID_CONFIG, INVALID_REQUEST, GROUP_AUTHORIZATION_FAILED = 40, 42, 30
HB, SESSION = "consumer.heartbeat.interval.ms", "consumer.session.timeout.ms"


def alter_legacy(port, rtype, name, configs):
    """AlterConfigs v0 (the legacy whole-set replacement) for one resource;
    configs: {name: value}. -> (error_code, error_message)."""
    entries = kproto.i32(len(configs)) + b"".join(kproto.string(k) + kproto.string(v) for k, v in configs.items())
    body = kproto.i32(1) + kproto.i8(rtype) + kproto.string(name) + entries + kproto.i8(0)
    r = roundtrip(port, 33, 0, body)
    r.take(">i")  # throttle
    out = r.array(lambda: (r.take(">h"), r.string(), r.take(">b"), r.string()))
    return out[0][0], out[0][1]


def heartbeat(port, group, member_id, epoch, **kw):
    return kproto.parse_consumer_group_heartbeat(
        kproto.round_trip(port, kproto.consumer_group_heartbeat(7, group, member_id, epoch, **kw)))


def join(port, group, member_id, topic):
    return heartbeat(port, group, member_id, 0, rebalance_timeout_ms=30000, topics=[topic], owned={})


def members(port, group):
    out = kproto.parse_consumer_group_describe(kproto.round_trip(port, kproto.consumer_group_describe(3, [group])))
    return [m["member_id"] for m in out[0]["members"]]


class GroupConfigTest(BrokerTestCase):
    # The broker's own timings differ from Kafka's defaults (a STATIC source),
    # and its bounds let a test's session be short.
    broker_sets = {"num.partitions": 1, "group.initial.rebalance.delay.ms": 0,
                   "group.consumer.heartbeat.interval.ms": 1000, "group.consumer.session.timeout.ms": 20000,
                   "group.consumer.min.session.timeout.ms": 1000, "group.consumer.min.heartbeat.interval.ms": 100}

    def setUp(self):
        self.port = self.broker.port

    def tearDown(self):
        self.assertBrokerAlive()

    def test_describe_a_group_without_configs(self):
        err, configs = describe(self.port, GROUP, "no-such-group")
        self.assertEqual(err, 0)  # a group need not exist to have configs, as in Kafka
        self.assertEqual(sorted(configs), [HB, SESSION])
        self.assertEqual(configs[HB], ("1000", STATIC, False, [("group.consumer.heartbeat.interval.ms", "1000", STATIC),
                                                               ("group.consumer.heartbeat.interval.ms", "5000",
                                                                DEFAULT)]))
        self.assertEqual(configs[SESSION][:2], ("20000", STATIC))
        err, configs = describe(self.port, GROUP, "no-such-group", keys=[SESSION])
        self.assertEqual(list(configs), [SESSION])
        err, _ = describe(self.port, GROUP, "")
        self.assertEqual(err, INVALID_REQUEST)

    def test_set_describe_delete(self):
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-set", [(HB, SET, "700"), (SESSION, SET, "9000")]),
                         (0, None))
        _, configs = describe(self.port, GROUP, "gc-set")
        self.assertEqual(configs[HB], ("700", DYNAMIC_GROUP, False, [(HB, "700", DYNAMIC_GROUP),
                                                                     ("group.consumer.heartbeat.interval.ms", "1000",
                                                                      STATIC),
                                                                     ("group.consumer.heartbeat.interval.ms", "5000",
                                                                      DEFAULT)]))
        self.assertEqual(configs[SESSION][:2], ("9000", DYNAMIC_GROUP))
        # Incremental: one key at a time; the other stays.
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-set", [(HB, DELETE, None)])[0], 0)
        _, configs = describe(self.port, GROUP, "gc-set")
        self.assertEqual((configs[HB][:2], configs[SESSION][:2]), (("1000", STATIC), ("9000", DYNAMIC_GROUP)))
        # Legacy AlterConfigs replaces the group's whole set.
        self.assertEqual(alter_legacy(self.port, GROUP, "gc-set", {HB: "800"}), (0, None))
        _, configs = describe(self.port, GROUP, "gc-set")
        self.assertEqual((configs[HB][:2], configs[SESSION][:2]), (("800", DYNAMIC_GROUP), ("20000", STATIC)))
        # validate_only checks and keeps nothing.
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-set", [(HB, SET, "900")], validate_only=True)[0], 0)
        self.assertEqual(describe(self.port, GROUP, "gc-set")[1][HB][0], "800")

    def test_kafka_checks_and_messages(self):
        def refused(ops, name="gc-bad"):
            return incremental_alter(self.port, GROUP, name, ops)

        self.assertEqual(refused([("consumer.max.poll.records", SET, "5")]),
                         (INVALID_CONFIG, "Unknown group config name: consumer.max.poll.records"))
        err, msg = refused([("share.session.timeout.ms", SET, "45000")])
        self.assertEqual(err, INVALID_CONFIG)
        self.assertIn("Unknown group config name: share.session.timeout.ms", msg)
        self.assertEqual(refused([(HB, SET, "soon")]),
                         (INVALID_CONFIG, "Invalid value soon for configuration %s: Not a number of type INT" % HB))
        self.assertEqual(refused([(HB, SET, "0")]),
                         (INVALID_CONFIG, "Invalid value 0 for configuration %s: Value must be at least 1" % HB))
        self.assertEqual(refused([(HB, SET, "50")]),
                         (INVALID_CONFIG, HB + " must be greater than or equal to "
                                               "group.consumer.min.heartbeat.interval.ms"))
        self.assertEqual(refused([(SESSION, SET, "70000")]),
                         (INVALID_CONFIG, SESSION + " must be less than or equal to "
                                                    "group.consumer.max.session.timeout.ms"))
        # An unset one counts at Kafka's default (5000 here), as Kafka checks.
        self.assertEqual(refused([(SESSION, SET, "4000")]),
                         (INVALID_CONFIG, SESSION + " must be greater than " + HB))
        self.assertEqual(refused([(HB, APPEND, "1")])[0], INVALID_CONFIG)
        self.assertEqual(refused([(HB, SET, None)]),
                         (INVALID_CONFIG, "Null value not supported for group configs: " + HB))
        self.assertEqual(refused([(HB, SET, "700")], name=""),
                         (INVALID_REQUEST, "Default group resources are not allowed."))
        # Nothing refused was kept.
        self.assertEqual(describe(self.port, GROUP, "gc-bad")[1][HB][1], STATIC)

    def test_heartbeat_interval_reaches_members_at_their_next_heartbeat(self):
        create_topic(self.bootstrap, "gc-hb", 1)
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-hb", [(HB, SET, "700")])[0], 0)
        r = join(self.port, "gc-hb", "m1", "gc-hb")
        self.assertEqual((r["error"], r["interval"]), (0, 700))
        # A group without configs gets the broker's.
        other = join(self.port, "gc-hb-other", "m1", "gc-hb")
        self.assertEqual(other["interval"], 1000)
        # Changed while the member is in the group: its next heartbeat has it.
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-hb", [(HB, SET, "1500")])[0], 0)
        r = heartbeat(self.port, "gc-hb", "m1", r["epoch"])
        self.assertEqual((r["error"], r["interval"]), (0, 1500))
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-hb", [(HB, DELETE, None)])[0], 0)
        r = heartbeat(self.port, "gc-hb", "m1", r["epoch"])
        self.assertEqual(r["interval"], 1000)

    def test_session_timeout_fences_a_silent_member(self):
        create_topic(self.bootstrap, "gc-session", 1)
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-short", [(SESSION, SET, "2000"),
                                                                         (HB, SET, "500")])[0], 0)
        self.assertEqual(join(self.port, "gc-short", "quiet", "gc-session")["error"], 0)
        self.assertEqual(join(self.port, "gc-long", "quiet", "gc-session")["error"], 0)
        start = time.time()
        self.assertTrue(wait_for(lambda: members(self.port, "gc-short") == [], timeout=15))
        fenced_after = time.time() - start
        self.assertGreater(fenced_after, 1.0)
        # The group without configs keeps its member (the broker's 20 s).
        self.assertEqual(members(self.port, "gc-long"), ["quiet"])

    def test_configs_survive_a_restart(self):
        self.assertEqual(incremental_alter(self.port, GROUP, "gc-restart", [(HB, SET, "600")])[0], 0)
        self.broker.stop()
        self.broker.restart()
        self.port = self.broker.port
        self.assertEqual(describe(self.port, GROUP, "gc-restart")[1][HB][:2], ("600", DYNAMIC_GROUP))
        create_topic(self.bootstrap, "gc-restart", 1)
        self.assertEqual(join(self.port, "gc-restart", "m1", "gc-restart")["interval"], 600)

    def test_cli(self):
        def cli(*args):
            r = subprocess.run([self.broker.binary, "group", *args, "--bootstrap", self.bootstrap],
                               capture_output=True, text=True, timeout=30)
            return r.returncode, r.stdout, r.stderr

        rc, out, _ = cli("alter-config", "gc-cli", "-s", "consumer.session.timeout.ms=30000")
        self.assertEqual(rc, 0)
        self.assertIn("OK", out)
        rc, out, _ = cli("describe-config", "gc-cli")
        self.assertEqual(rc, 0)
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
        self.assertEqual(rows[SESSION], ["30000", "DYNAMIC_GROUP_CONFIG", "false"])
        self.assertEqual(rows[HB], ["1000", "STATIC_BROKER_CONFIG", "false"])
        rc, out, _ = cli("alter-config", "gc-cli", "-s", "consumer.session.timeout.ms=1")
        self.assertEqual(rc, 1)
        self.assertIn("INVALID_CONFIG", out)
        rc, _, _ = cli("alter-config", "gc-cli", "-d", "consumer.session.timeout.ms")
        self.assertEqual(rc, 0)
        self.assertEqual(describe(self.port, GROUP, "gc-cli")[1][SESSION][1], STATIC)


def list_config_resources(port, version, types=()):
    """ListConfigResources (74) -> (error, [(type, name)]); v0 has no types."""
    body = (kproto.carray([kproto.i8(t) for t in types]) if version >= 1 else b"") + kproto.NO_TAGS
    r = kproto.VersionedReader(kproto.round_trip(port, kproto.frame(kproto.header_v2(74, version, 4) + body)), True)
    r.i32()  # throttle
    err = r.i16()

    def resource():
        name = r.string()
        rtype = r.take(1)[0] if version >= 1 else 16
        r.tags()
        return rtype, name

    return err, r.array(resource)


class ListConfigResourcesTest(BrokerTestCase):
    def test_lists_groups_with_configs_brokers_and_topics(self):
        port = self.broker.port
        create_topic(self.bootstrap, "lcr-topic", 1)
        self.assertEqual(incremental_alter(port, GROUP, "lcr-b", [(HB, SET, "6000")])[0], 0)
        self.assertEqual(incremental_alter(port, GROUP, "lcr-a", [(SESSION, SET, "50000")])[0], 0)
        err, resources = list_config_resources(port, 1)
        self.assertEqual(err, 0)
        # Kafka's order: groups, (client metrics), (broker loggers), brokers, topics; each sorted.
        self.assertEqual(resources[:3], [(GROUP, "lcr-a"), (GROUP, "lcr-b"), (4, "0")])
        self.assertIn((2, "lcr-topic"), resources[3:])
        self.assertEqual(list_config_resources(port, 1, [GROUP]), (0, [(GROUP, "lcr-a"), (GROUP, "lcr-b")]))
        self.assertEqual(list_config_resources(port, 1, [4, 4]), (0, [(4, "0")]))
        # A group whose configs are all removed is no longer listed.
        self.assertEqual(incremental_alter(port, GROUP, "lcr-b", [(HB, DELETE, None)])[0], 0)
        self.assertEqual(list_config_resources(port, 1, [GROUP]), (0, [(GROUP, "lcr-a")]))
        # v0 (ListClientMetricsResources): client-metrics subscriptions, none here.
        self.assertEqual(list_config_resources(port, 0), (0, []))
        # A type Kafka does not know fails the whole request.
        self.assertEqual(list_config_resources(port, 1, [2, 64]), (35, []))
        self.assertBrokerAlive()


class GroupTimingStartupTest(unittest.TestCase):
    def test_broker_timings_checked_as_kafka(self):
        # Kafka's bounds are 45-60 s and 5-15 s: a shorter session needs a lower minimum.
        b = Broker(sets={"group.consumer.session.timeout.ms": 10000})
        try:
            with self.assertRaises(RuntimeError) as e:
                b.start()
            self.assertIn("group.consumer.session.timeout.ms must be greater than or equal to "
                          "group.consumer.min.session.timeout.ms", str(e.exception))
        finally:
            b.cleanup()
        b = Broker(sets={"group.consumer.heartbeat.interval.ms": 15000, "group.consumer.max.heartbeat.interval.ms":
                         20000, "group.consumer.session.timeout.ms": 45000}).start()
        b.cleanup()
        b = Broker(sets={"group.consumer.min.session.timeout.ms": 1000, "group.consumer.session.timeout.ms": 5000,
                         "group.consumer.heartbeat.interval.ms": 5000})
        try:
            with self.assertRaises(RuntimeError) as e:
                b.start()
            self.assertIn("group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms",
                          str(e.exception))
        finally:
            b.cleanup()


class GroupConfigAclTest(unittest.TestCase):
    def test_group_configs_need_acls_on_the_group(self):
        b = secured_broker()
        b.start()
        try:
            port = int(b.sasl.split(":")[1])
            self.assertTrue(wait_port(port, 10.0))

            def as_alice(api_key, version, body):
                c = kproto.plain_login(port, "alice", USERS["alice"])
                try:
                    c.send(kproto.frame(kproto.header_v1(api_key, version, 3) + body))
                    r = kproto.Reader(c.recv_frame())
                    self.assertEqual(r.i32(), 3)
                    r.i32()  # throttle
                    self.assertEqual(r.i32(), 1)  # one resource
                    return r.i16()
                finally:
                    c.close()

            describe_body = (kproto.i32(1) + kproto.i8(GROUP) + kproto.string("gc-acl") + kproto.i32(-1) +
                             kproto.i8(0))
            alter_body = (kproto.i32(1) + kproto.i8(GROUP) + kproto.string("gc-acl") + kproto.i32(1) +
                          kproto.string(HB) + kproto.i8(SET) + kproto.string("6000") + kproto.i8(0))
            c = kproto.plain_login(port, "alice", USERS["alice"])
            try:  # ListConfigResources needs DESCRIBE_CONFIGS on the cluster
                c.send(kproto.frame(kproto.header_v2(74, 1, 3) + kproto.carray([]) + kproto.NO_TAGS))
                r = kproto.VersionedReader(c.recv_frame(), True)
                r.i32()
                self.assertEqual(r.i16(), 31)
            finally:
                c.close()
            self.assertEqual(as_alice(32, 1, describe_body), GROUP_AUTHORIZATION_FAILED)
            self.assertEqual(as_alice(44, 0, alter_body), GROUP_AUTHORIZATION_FAILED)
            from test_acls import admin_properties
            props = admin_properties(b.tmp)
            r = runnel("acl", "add", "--bootstrap-server", b.sasl, "--command-config", props, "--allow-principal",
                       "User:alice", "--operation", "DescribeConfigs", "--operation", "AlterConfigs", "--group",
                       "gc-acl")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(as_alice(32, 1, describe_body), 0)
            self.assertEqual(as_alice(44, 0, alter_body), 0)
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


class ClusterGroupConfigTest(unittest.TestCase):
    def test_config_set_through_one_broker_applies_on_the_other(self):
        with Cluster(2) as c:
            port = {n: c.brokers[n].port for n in c.brokers}
            self.assertEqual(incremental_alter(port[1], GROUP, "gc-cluster", [(HB, SET, "7000")])[0], 0)
            self.assertTrue(wait_for(lambda: describe(port[2], GROUP, "gc-cluster")[1][HB][:2] ==
                                     ("7000", DYNAMIC_GROUP), timeout=10))
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())


if __name__ == "__main__":
    unittest.main()
