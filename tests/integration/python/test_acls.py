"""ACLs (authorizer.class.name=StandardAuthorizer): SCRAM users over
SASL_PLAINTEXT with confluent-kafka (librdkafka 2.0.2) and kafka-python.
Produce, consume, group join and commit, topic create and delete, each allowed
and denied; literal and prefixed patterns; deny over allow; super users;
Metadata listing only what a principal may describe;
allow.everyone.if.no.acl.found; ACLs surviving a restart; CreateAcls /
DescribeAcls / DeleteAcls through kafka-python's admin client (Debian's
confluent-kafka 1.7.0 has no ACL admin API) and through `runnel acl`; and a
3-broker cluster where an ACL created through one broker applies on another."""
import os
import subprocess
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from kafka import KafkaConsumer, TopicPartition as KTopicPartition
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient,
                         NewTopic, ResourcePattern, ResourcePatternFilter, ResourceType)
from kafka.errors import ClusterAuthorizationFailedError, TopicAuthorizationFailedError

import kproto
from broker import Broker, free_port, wait_port
from cluster import Cluster, wait_for

USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def runnel(*args):
    return subprocess.run([os.environ["RUNNEL_BIN"], *args], capture_output=True, text=True, timeout=30)


def add_users(data_dir):
    for user, password in USERS.items():
        r = runnel("user", "set", user, "--password", password, "--data-dir", data_dir)
        assert r.returncode == 0, r.stderr


def secured_broker(sets=None, args=None):
    """A broker with a SASL_PLAINTEXT listener (besides the harness's
    PLAINTEXT one) and the users, not started yet; .sasl is its address."""
    port = free_port()
    cfg = {"listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
           "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
           "authorizer.class.name": AUTHORIZER, "super.users": "User:admin"}
    cfg.update(sets or {})
    b = Broker(sets=cfg, args=args)
    b.sasl = "127.0.0.1:%d" % port
    add_users(b.data_dir)
    return b


def admin_properties(directory):
    """A kafka-acls.sh style --command-config file for the super user."""
    path = os.path.join(directory, "admin.properties")
    with open(path, "w") as f:
        f.write("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
                "username=\"admin\" password=\"%s\";\n" % USERS["admin"])
    return path


def kp_admin(bootstrap, user="admin"):
    return KafkaAdminClient(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="SCRAM-SHA-256", sasl_plain_username=user,
                            sasl_plain_password=USERS[user], request_timeout_ms=10000,
                            api_version_auto_timeout_ms=5000)


def conf(bootstrap, user, **extra):
    c = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
         "sasl.username": user, "sasl.password": USERS[user], "socket.timeout.ms": 10000,
         "topic.metadata.refresh.interval.ms": 1000}
    c.update(extra)
    return c


def acl(principal, op, rtype, name, pattern=ACLResourcePatternType.LITERAL, permission=ACLPermissionType.ALLOW,
        host="*"):
    return ACL(principal=principal, host=host, operation=op, permission_type=permission,
               resource_pattern=ResourcePattern(rtype, name, pattern))


def produce_error(bootstrap, user, topic, timeout=15):
    """Produces one record; returns the delivery error code (None: delivered)."""
    result = []
    p = Producer(conf(bootstrap, user, **{"message.timeout.ms": timeout * 1000}))
    p.produce(topic, value=b"v", partition=0, on_delivery=lambda err, msg: result.append(err))
    p.flush(timeout + 5)
    assert result, "no delivery report"
    return None if result[0] is None else result[0].code()


def kp_read(bootstrap, user, topic, timeout=15):
    """kafka-python, no group: partition 0's values, or the error class raised."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                      sasl_plain_username=user, sasl_plain_password=USERS[user], group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100,
                      request_timeout_ms=10000, api_version_auto_timeout_ms=5000)
    try:
        c.assign([KTopicPartition(topic, 0)])
        c.seek(KTopicPartition(topic, 0), 0)
        values = []
        deadline = time.time() + timeout
        while time.time() < deadline and not values:
            try:
                for recs in c.poll(timeout_ms=200).values():
                    values.extend(r.value for r in recs)
            except TopicAuthorizationFailedError:
                return TopicAuthorizationFailedError
        return values
    finally:
        c.close()


def consume_errors(bootstrap, user, topic, group=None, want=1, timeout=15):
    """Reads from partition 0 (with a group: subscribes and commits);
    returns (values, error codes seen)."""
    extra = {"group.id": group or "unused", "enable.auto.commit": False, "auto.offset.reset": "earliest",
             "fetch.wait.max.ms": 100, "session.timeout.ms": 6000}
    c = Consumer(conf(bootstrap, user, **extra))
    values, errors = [], []
    try:
        if group:
            c.subscribe([topic])
        else:
            c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.time() + timeout
        while time.time() < deadline and len(values) < want:
            if errors:  # gather what else comes (a group error and a topic error)
                deadline = min(deadline, time.time() + 2)
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    errors.append(m.error().code())
                continue
            values.append(m.value())
            if group:
                c.commit(message=m, asynchronous=False)
    finally:
        c.close()
    return values, errors


class AclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = secured_broker()
        cls.broker.start()
        assert wait_port(int(cls.broker.sasl.split(":")[1]), 10.0)
        cls.admin = kp_admin(cls.broker.sasl)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.broker.cleanup_expecting_alive()

    def tearDown(self):
        self.assertTrue(self.broker.alive(), self.broker.log())

    def create_topic(self, name):
        self.admin.create_topics([NewTopic(name, 1, 1)])

    def allow(self, *acls):
        result = self.admin.create_acls(list(acls))
        self.assertEqual(result["failed"], [], result)

    def test_produce_and_consume_allowed_and_denied(self):
        self.create_topic("orders")
        s = self.broker.sasl
        self.assertEqual(produce_error(s, "alice", "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED)
        self.allow(acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "orders"))
        self.assertIsNone(produce_error(s, "alice", "orders"))
        # bob may see it (DESCRIBE) but not read it: Fetch refuses
        # (kafka-python, without a group); then READ.
        self.allow(acl("User:bob", ACLOperation.DESCRIBE, ResourceType.TOPIC, "orders"))
        self.assertEqual(kp_read(s, "bob", "orders"), TopicAuthorizationFailedError)
        self.allow(acl("User:bob", ACLOperation.READ, ResourceType.TOPIC, "orders"))
        self.assertEqual(kp_read(s, "bob", "orders"), [b"v"])
        # A group needs READ on the group too: join and commit.
        _, errors = consume_errors(s, "bob", "orders", group="bob-group")
        self.assertIn(KafkaError.GROUP_AUTHORIZATION_FAILED, errors)
        self.allow(acl("User:bob", ACLOperation.READ, ResourceType.GROUP, "bob-group"))
        values, errors = consume_errors(s, "bob", "orders", group="bob-group")
        self.assertEqual((values, errors), ([b"v"], []))
        offsets = self.admin.list_consumer_group_offsets("bob-group")
        self.assertEqual([o.offset for o in offsets.values()], [1])

    def test_prefixed_patterns_and_deny_over_allow(self):
        for t in ("pre-a", "pre-b", "other"):
            self.create_topic(t)
        s = self.broker.sasl
        self.allow(acl("User:alice", ACLOperation.ALL, ResourceType.TOPIC, "pre-", ACLResourcePatternType.PREFIXED),
                   acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "pre-b",
                       permission=ACLPermissionType.DENY))
        self.assertIsNone(produce_error(s, "alice", "pre-a"))
        self.assertEqual(produce_error(s, "alice", "pre-b"), KafkaError.TOPIC_AUTHORIZATION_FAILED)
        self.assertEqual(produce_error(s, "alice", "other"), KafkaError.TOPIC_AUTHORIZATION_FAILED)

    def test_topic_create_and_delete(self):
        bob = kp_admin(self.broker.sasl, "bob")
        try:
            with self.assertRaises(TopicAuthorizationFailedError):
                bob.create_topics([NewTopic("bob-t", 1, 1)])
            self.allow(acl("User:bob", ACLOperation.CREATE, ResourceType.TOPIC, "bob-",
                           ACLResourcePatternType.PREFIXED))
            bob.create_topics([NewTopic("bob-t", 1, 1)])
            with self.assertRaises(TopicAuthorizationFailedError):
                bob.create_topics([NewTopic("not-bobs", 1, 1)])
            with self.assertRaises(TopicAuthorizationFailedError):
                bob.delete_topics(["bob-t"])
            self.allow(acl("User:bob", ACLOperation.DELETE, ResourceType.TOPIC, "bob-t"))
            bob.delete_topics(["bob-t"])
        finally:
            bob.close()

    def test_metadata_lists_only_described_topics_and_super_users_see_all(self):
        for t in ("meta-visible", "meta-hidden"):
            self.create_topic(t)
        self.allow(acl("User:alice", ACLOperation.DESCRIBE, ResourceType.TOPIC, "meta-visible"))
        alice = Consumer(conf(self.broker.sasl, "alice", **{"group.id": "x"}))
        try:
            topics = set(alice.list_topics(timeout=10).topics)
        finally:
            alice.close()
        self.assertIn("meta-visible", topics)
        self.assertNotIn("meta-hidden", topics)
        self.assertTrue({"meta-visible", "meta-hidden"} <= set(self.admin.list_topics()))

    def test_acl_admin_round_trip_and_cluster_authorization(self):
        pattern = ResourcePattern(ResourceType.GROUP, "rt-", ACLResourcePatternType.PREFIXED)
        binding = ACL(principal="User:carol", host="10.1.2.3", operation=ACLOperation.READ,
                      permission_type=ACLPermissionType.ALLOW, resource_pattern=pattern)
        self.allow(binding)
        match = ACLFilter(principal="User:carol", host=None, operation=ACLOperation.ANY,
                          permission_type=ACLPermissionType.ANY,
                          resource_pattern=ResourcePatternFilter(ResourceType.GROUP, None,
                                                                 ACLResourcePatternType.ANY))
        found, error = self.admin.describe_acls(match)
        self.assertEqual(len(found), 1, found)
        self.assertEqual((found[0].host, found[0].operation, found[0].resource_pattern.resource_name),
                         ("10.1.2.3", ACLOperation.READ, "rt-"))
        deleted = self.admin.delete_acls([match])
        self.assertEqual(len(deleted[0][1]), 1, deleted)
        self.assertEqual(self.admin.describe_acls(match)[0], [])
        # Only a principal with ALTER / DESCRIBE on the cluster may.
        alice = kp_admin(self.broker.sasl, "alice")
        try:
            result = alice.create_acls([binding])
            self.assertEqual(len(result["failed"]), 1)
            err = result["failed"][0][1]  # kafka-python 2.0.2 gives the class
            self.assertTrue(err is ClusterAuthorizationFailedError or isinstance(err, ClusterAuthorizationFailedError))
            with self.assertRaises(ClusterAuthorizationFailedError):
                alice.describe_acls(match)
        finally:
            alice.close()

    def test_cli_add_list_remove(self):
        props = admin_properties(self.broker.tmp)
        base = ["--bootstrap-server", self.broker.sasl, "--command-config", props]
        r = runnel("acl", "add", *base, "--allow-principal", "User:dave", "--operation", "Read", "--operation",
                   "Describe", "--topic", "cli-t", "--group", "cli-", "--resource-pattern-type", "prefixed")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = runnel("acl", "list", *base, "--principal", "User:dave")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ResourcePattern(resourceType=TOPIC, name=cli-t, patternType=PREFIXED)", r.stdout)
        self.assertIn("(principal=User:dave, host=*, operation=READ, permissionType=ALLOW)", r.stdout)
        self.assertEqual(r.stdout.count("principal=User:dave"), 4, r.stdout)
        r = runnel("acl", "remove", *base, "--topic", "cli-t", "--group", "cli-", "--resource-pattern-type",
                   "prefixed", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("Removed"), 4, r.stdout)
        self.assertEqual(runnel("acl", "list", *base, "--principal", "User:dave").stdout.strip(), "")
        # Without credentials (User:ANONYMOUS on the PLAINTEXT listener): refused.
        r = runnel("acl", "list", "--bootstrap-server", self.broker.bootstrap)
        self.assertEqual(r.returncode, 1)
        self.assertIn("CLUSTER_AUTHORIZATION_FAILED", r.stderr)


class AclDefaultsAndRestartTest(unittest.TestCase):
    """allow.everyone.if.no.acl.found, SECURITY_DISABLED without an
    authorizer, and the ACL file across a restart."""

    def test_allow_everyone_if_no_acl_found_and_restart(self):
        b = secured_broker({"allow.everyone.if.no.acl.found": "true"})
        try:
            b.start()
            admin = kp_admin(b.sasl)
            admin.create_topics([NewTopic("open", 1, 1), NewTopic("guarded", 1, 1)])
            admin.create_acls([acl("User:bob", ACLOperation.WRITE, ResourceType.TOPIC, "guarded")])
            admin.close()
            # alice: no ACL names "open", so everyone may; "guarded" has one (bob's).
            self.assertIsNone(produce_error(b.sasl, "alice", "open"))
            self.assertEqual(produce_error(b.sasl, "alice", "guarded"), KafkaError.TOPIC_AUTHORIZATION_FAILED)
            self.assertEqual(b.stop(), 0)
            b.restart()
            self.assertTrue(wait_port(int(b.sasl.split(":")[1]), 10.0))
            admin = kp_admin(b.sasl)
            found, _ = admin.describe_acls(ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                                                     permission_type=ACLPermissionType.ANY,
                                                     resource_pattern=ResourcePatternFilter(
                                                         ResourceType.ANY, None, ACLResourcePatternType.ANY)))
            admin.close()
            self.assertEqual([(a.principal, a.resource_pattern.resource_name) for a in found], [("User:bob", "guarded")])
            self.assertIsNone(produce_error(b.sasl, "bob", "guarded"))
            self.assertEqual(produce_error(b.sasl, "alice", "guarded"), KafkaError.TOPIC_AUTHORIZATION_FAILED)
        finally:
            b.cleanup()

    def test_security_disabled_without_an_authorizer(self):
        b = Broker()
        try:
            b.start()
            r = runnel("acl", "list", "--bootstrap-server", b.bootstrap)
            self.assertEqual(r.returncode, 1)
            self.assertIn("SECURITY_DISABLED", r.stderr)
            # ApiVersions advertises the three ACL APIs, v0-3, as Kafka 4 does.
            _, err, apis = kproto.parse_api_versions_v0(kproto.round_trip(b.port, kproto.api_versions_v0(1)))
            self.assertEqual((err, apis.get(29), apis.get(30), apis.get(31)), (0, (0, 3), (0, 3), (0, 3)))
        finally:
            b.cleanup()


class AclClusterTest(unittest.TestCase):
    """Three brokers: the ACLs live in etcd, and one created through one broker
    applies on the others. Brokers replicate over the PLAINTEXT inter-broker
    listener as User:ANONYMOUS, which gets CLUSTER_ACTION (see the README)."""

    def test_acl_created_on_one_broker_applies_on_another(self):
        c = Cluster(0)
        try:
            c.etcd.start()
            for n in (1, 2, 3):
                b = secured_broker(args=["--node-id", str(n), "--etcd", c.etcd.url])
                c.brokers[n] = b
                b.start()
            self.assertTrue(wait_for(lambda: all(c.view(n) and sorted(c.view(n)[0]) == [1, 2, 3] for n in c.brokers)))
            props = admin_properties(c.brokers[1].tmp)

            def cli(n, *args):
                # One connection to broker n alone (the CLI never follows metadata).
                return runnel("acl", *args, "--bootstrap-server", c.brokers[n].sasl, "--command-config", props)

            def seen_by(n):
                return "principal=User:alice" in cli(n, "list", "--topic", "shared").stdout

            r = cli(1, "add", "--cluster", "--operation", "ClusterAction", "--allow-principal", "User:ANONYMOUS")
            self.assertEqual(r.returncode, 0, r.stderr)
            admin = kp_admin(c.brokers[1].sasl)
            admin.create_topics([NewTopic("shared", 1, 3)])
            admin.close()
            self.assertEqual(produce_error(c.brokers[3].sasl, "alice", "shared"),
                             KafkaError.TOPIC_AUTHORIZATION_FAILED)
            # Created through broker 1, in force on brokers 2 and 3 within a moment.
            r = cli(1, "add", "--topic", "shared", "--operation", "Write", "--allow-principal", "User:alice")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(wait_for(lambda: seen_by(2) and seen_by(3), timeout=5))
            self.assertIsNone(produce_error(c.brokers[3].sasl, "alice", "shared"))
            # Removed through broker 2: gone on broker 1 too.
            r = cli(2, "remove", "--topic", "shared", "--force")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(wait_for(lambda: not seen_by(1), timeout=5))
            self.assertEqual(produce_error(c.brokers[1].sasl, "alice", "shared"),
                             KafkaError.TOPIC_AUTHORIZATION_FAILED)
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main()
