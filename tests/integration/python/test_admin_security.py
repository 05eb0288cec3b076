"""The REST proxy and the console on a secured broker: its only Kafka
listener is SASL_SSL (no PLAINTEXT), the StandardAuthorizer is on and the
admin listener asks for HTTP Basic. The proxy reaches the broker in process
as the Basic user, so that user's ACLs apply to what it does through the
proxy: a topic they may not write is a 403 with Confluent's 40301, topics
they may not describe are not listed, and a consumer instance reads as its
creator and is invisible to other users. Records produced through the proxy
are read back over SASL_SSL with confluent-kafka. Without HTTP Basic such a
broker serves neither (they would be an anonymous client)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from confluent_kafka import Consumer, TopicPartition
from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient, NewTopic,
                         ResourcePattern, ResourceType)

from broker import Broker, free_port, wait_port
from tls_certs import KEY_PASSWORD, make_certs

CURL = shutil.which("curl")
V2 = "application/vnd.kafka.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def start_secured_broker(certs, extra_sets=None, scheme="http", protocol="SASL_SSL"):
    """A broker whose only listener is `protocol`, with the users and the
    authorizer, its admin listener on `scheme`; returns (broker, admin port)."""
    admin_port = free_port()
    b = Broker(sets={}, plaintext_listener=False)
    sets = {"listeners": "%s://127.0.0.1:%d" % (protocol, b.port),
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            "ssl.keystore.type": "PEM", "ssl.keystore.location": certs["server-keystore.pem"],
            "ssl.key.password": KEY_PASSWORD,
            "authorizer.class.name": AUTHORIZER, "super.users": "User:admin",
            "runnel.admin.listen": ("" if scheme == "http" else scheme + "://") + "127.0.0.1:%d" % admin_port,
            "runnel.admin.authentication": "basic",
            "group.initial.rebalance.delay.ms": 0}
    sets.update(extra_sets or {})
    b.sets.update(sets)
    for user, password in USERS.items():
        r = subprocess.run([os.environ["RUNNEL_BIN"], "user", "set", user, "--password", password, "--data-dir",
                            b.data_dir], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
    b.start()
    return b, admin_port


def kafka_conf(broker, certs, user, **extra):
    c = {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-256",
         "sasl.username": user, "sasl.password": USERS[user], "ssl.ca.location": certs["ca.pem"],
         "socket.timeout.ms": 10000}
    c.update(extra)
    return c


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class AdminOnSecuredBrokerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        cls.certs = make_certs(cls.tmp)
        cls.broker, cls.admin_port = start_secured_broker(cls.certs)
        cls.base = "http://127.0.0.1:%d" % cls.admin_port
        admin = KafkaAdminClient(bootstrap_servers=cls.broker.bootstrap, security_protocol="SASL_SSL",
                                 ssl_cafile=cls.certs["ca.pem"], sasl_mechanism="SCRAM-SHA-256",
                                 sasl_plain_username="admin", sasl_plain_password=USERS["admin"],
                                 request_timeout_ms=10000, api_version_auto_timeout_ms=5000)
        try:
            admin.create_topics([NewTopic(t, 2, 1) for t in ("orders", "audit", "secret", "here", "elsewhere")])

            def allow(op, rtype, name, pattern=ACLResourcePatternType.LITERAL, host="*"):
                return ACL(principal="User:alice", host=host, operation=op, permission_type=ACLPermissionType.ALLOW,
                           resource_pattern=ResourcePattern(rtype, name, pattern))

            result = admin.create_acls([
                allow(ACLOperation.DESCRIBE, ResourceType.TOPIC, "orders"),
                allow(ACLOperation.WRITE, ResourceType.TOPIC, "orders"),
                allow(ACLOperation.READ, ResourceType.TOPIC, "orders"),
                allow(ACLOperation.DESCRIBE, ResourceType.TOPIC, "audit"),  # describe, not write
                allow(ACLOperation.READ, ResourceType.GROUP, "alice-", ACLResourcePatternType.PREFIXED),
                # The ACL host is the HTTP client's address (curl: 127.0.0.1).
                allow(ACLOperation.WRITE, ResourceType.TOPIC, "here", host="127.0.0.1"),
                allow(ACLOperation.WRITE, ResourceType.TOPIC, "elsewhere", host="10.9.9.9"),
            ])
            assert result["failed"] == [], result
        finally:
            admin.close()
        time.sleep(0.5)  # the ACLs are applied on the broker's shards

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, user, method, path, body=None, content_type=V2, accept=V2):
        args = [CURL, "-s", "-X", method, "-H", "Accept: " + accept, "-w", "\n%{http_code}"]
        if user:
            args += ["-u", "%s:%s" % (user, USERS[user])]
        if body is not None:
            args += ["-H", "Content-Type: " + content_type, "--data-binary", json.dumps(body)]
        out = subprocess.run(args + [self.base + path], capture_output=True, text=True, timeout=60).stdout
        text, _, code = out.rpartition("\n")
        return int(code), (json.loads(text) if text.strip() else None)

    def read_back(self, topic, done):
        """Partition 0 and 1's values from the start until done(values)."""
        c = Consumer(kafka_conf(self.broker, self.certs, "admin", **{"group.id": "check-" + topic,
                                                                      "auto.offset.reset": "earliest",
                                                                      "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
            got, deadline = [], time.time() + 20
            while not done(got) and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got.append(m.value())
            return got
        finally:
            c.close()

    def test_topics_are_what_the_user_may_describe(self):
        code, topics = self.curl("admin", "GET", "/topics")
        self.assertEqual(code, 200, topics)
        self.assertLessEqual({"audit", "orders", "secret", "here", "elsewhere"}, set(topics))
        code, topics = self.curl("alice", "GET", "/topics")
        self.assertEqual(code, 200, topics)
        # What alice may describe from 127.0.0.1 (WRITE implies DESCRIBE;
        # "elsewhere"'s ACL names another host).
        self.assertEqual(sorted(topics), ["audit", "here", "orders"])
        code, body = self.curl("alice", "GET", "/topics/secret")
        self.assertEqual(code, 403, body)
        self.assertEqual(body["error_code"], 40301)
        code, body = self.curl("alice", "GET", "/topics/orders")
        self.assertEqual(code, 200, body)
        self.assertEqual(len(body["partitions"]), 2)

    def test_produce_as_the_basic_user(self):
        records = {"records": [{"value": {"n": i, "by": "proxy"}, "partition": i % 2} for i in range(6)]}
        code, body = self.curl("alice", "POST", "/topics/orders", records, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertEqual([o["error_code"] for o in body["offsets"]], [None] * 6)
        def proxied(values):
            out = []
            for b in values:
                try:
                    v = json.loads(b)
                except (TypeError, ValueError):
                    continue  # another test's text record
                if isinstance(v, dict) and v.get("by") == "proxy":
                    out.append(v["n"])
            return sorted(out)

        self.assertEqual(proxied(self.read_back("orders", lambda got: len(proxied(got)) >= 6)), list(range(6)))

    def test_denied_write_is_40301(self):
        for topic in ("audit", "secret"):  # may describe, may not write; may do neither
            code, body = self.curl("alice", "POST", "/topics/" + topic, {"records": [{"value": {"x": 1}}]}, JSON_V2)
            self.assertEqual(code, 403, (topic, body))
            self.assertEqual(body["error_code"], 40301)
            self.assertIn("Not authorized to access topics: [%s]" % topic, body["message"])
        code, body = self.curl("bob", "POST", "/topics/orders", {"records": [{"value": {"x": 1}}]}, JSON_V2)
        self.assertEqual(code, 403, body)
        # The super user may.
        code, body = self.curl("admin", "POST", "/topics/audit", {"records": [{"value": {"x": 1}}]}, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertIsNone(body["offsets"][0]["error_code"])

    def test_acl_host_is_the_http_client(self):
        code, body = self.curl("alice", "POST", "/topics/here", {"records": [{"value": 1}]}, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertIsNone(body["offsets"][0]["error_code"])
        code, body = self.curl("alice", "POST", "/topics/elsewhere", {"records": [{"value": 1}]}, JSON_V2)
        self.assertEqual(code, 403, body)
        self.assertEqual(body["error_code"], 40301)

    def test_consumer_instance_acts_for_its_creator(self):
        code, body = self.curl("admin", "POST", "/topics/orders/partitions/0",
                               {"records": [{"value": {"c": 1}}, {"value": {"c": 2}}]}, JSON_V2)
        self.assertEqual(code, 200, body)
        inst = "/consumers/alice-g/instances/c1"
        code, body = self.curl("alice", "POST", "/consumers/alice-g",
                               {"name": "c1", "format": "json", "auto.offset.reset": "earliest"})
        self.assertEqual(code, 200, body)
        try:
            code, body = self.curl("alice", "POST", inst + "/subscription", {"topics": ["orders"]})
            self.assertEqual(code, 204, body)
            got, deadline = [], time.time() + 30
            while not any(r["value"] == {"c": 2} for r in got) and time.time() < deadline:
                code, records = self.curl("alice", "GET", inst + "/records?timeout=1000", accept=JSON_V2)
                self.assertEqual(code, 200, records)
                got += records
            self.assertIn({"c": 2}, [r["value"] for r in got])
            # Another user cannot see or delete it.
            code, body = self.curl("bob", "GET", inst + "/subscription")
            self.assertEqual(code, 404, body)
            self.assertEqual(body["error_code"], 40403)
            code, body = self.curl("bob", "DELETE", inst)
            self.assertEqual(code, 404, body)
        finally:
            self.curl("alice", "DELETE", inst)
        # A group alice may not read: the instance's member cannot join.
        code, body = self.curl("alice", "POST", "/consumers/other-g", {"name": "c2", "format": "json"})
        self.assertEqual(code, 200, body)
        try:
            code, body = self.curl("alice", "POST", "/consumers/other-g/instances/c2/subscription",
                                   {"topics": ["orders"]})
            self.assertEqual(code, 204, body)
            code, body = self.curl("alice", "GET", "/consumers/other-g/instances/c2/records?timeout=1500",
                                   accept=JSON_V2)
            self.assertEqual(body if code == 200 else [], [])  # nothing read; never orders' records
        finally:
            self.curl("alice", "DELETE", "/consumers/other-g/instances/c2")

    def test_console_as_the_basic_user(self):
        code, body = self.curl("admin", "GET", "/v1/console/topics")
        self.assertEqual(code, 200, body)
        self.assertIn("secret", json.dumps(body))
        code, body = self.curl("alice", "GET", "/v1/console/topics")
        self.assertEqual(code, 200, body)
        self.assertIn("orders", json.dumps(body))
        self.assertNotIn("secret", json.dumps(body))
        code, body = self.curl("admin", "GET", "/v1/console/cluster")
        self.assertEqual(code, 200, body)
        # alice may not create topics (no CREATE on the cluster or the name).
        code, body = self.curl("alice", "POST", "/v1/console/topics", {"name": "alice-new", "partitions": 1})
        self.assertEqual(code, 400, body)
        self.assertIn("AUTHORIZATION_FAILED", body["error"])
        code, body = self.curl("admin", "POST", "/v1/console/topics", {"name": "admin-new", "partitions": 1})
        self.assertEqual(code, 200, body)
        # A message produced in the console by alice lands; one to audit does not.
        code, body = self.curl("alice", "POST", "/v1/console/topics/orders/messages", {"value": "from-console"})
        self.assertEqual(code, 200, body)
        code, body = self.curl("alice", "POST", "/v1/console/topics/audit/messages", {"value": "nope"})
        self.assertNotEqual(code, 200, body)
        self.assertIn(b"from-console", self.read_back("orders", lambda got: b"from-console" in got))

    def test_no_credentials_no_kafka(self):
        code, body = self.curl(None, "GET", "/topics")
        self.assertEqual(code, 401, body)
        self.assertEqual(body["error_code"], 40101)


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class SecuredBrokerWithoutAdminAuthTest(unittest.TestCase):
    """No PLAINTEXT listener and runnel.admin.authentication=none: the proxy
    and the console would be an anonymous Kafka client for anyone reaching
    the admin port, so they are not served; /metrics and health still are."""

    def test_not_served_without_a_user(self):
        tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        broker = None
        try:
            certs = make_certs(tmp)
            broker, admin_port = start_secured_broker(certs, {"runnel.admin.authentication": "none"})

            def status(path):
                out = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                      "http://127.0.0.1:%d%s" % (admin_port, path)],
                                     capture_output=True, text=True, timeout=30).stdout
                return int(out)

            self.assertEqual(status("/v1/health"), 200)
            self.assertEqual(status("/metrics"), 200)
            self.assertEqual(status("/topics"), 404)
            self.assertEqual(status("/v1/console/topics"), 404)
            self.assertIn("the console and the REST proxy are not served", broker.log())
        finally:
            if broker:
                broker.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class SslOnlyBrokerTest(unittest.TestCase):
    """An SSL-only broker (no SASL at all): the proxy still acts as the
    Basic user, which no TLS client of the broker could."""

    def test_acts_as_the_basic_user(self):
        tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        broker = None
        try:
            certs = make_certs(tmp)
            broker, admin_port = start_secured_broker(certs, protocol="SSL")

            def curl(user, method, path, body=None):
                args = [CURL, "-s", "-X", method, "-u", "%s:%s" % (user, USERS[user]), "-w", "\n%{http_code}"]
                if body is not None:
                    args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
                out = subprocess.run(args + ["http://127.0.0.1:%d%s" % (admin_port, path)],
                                     capture_output=True, text=True, timeout=30).stdout
                text, _, code = out.rpartition("\n")
                return int(code), json.loads(text) if text.strip() else None

            code, body = curl("admin", "POST", "/v1/console/topics", {"name": "ssl-only", "partitions": 1})
            self.assertEqual(code, 200, body)
            code, body = curl("admin", "GET", "/topics")
            self.assertEqual((code, body), (200, ["ssl-only"]))
            code, body = curl("alice", "GET", "/topics")
            self.assertEqual((code, body), (200, []))  # no ACL gives alice anything
            code, body = curl("alice", "POST", "/v1/console/topics", {"name": "nope", "partitions": 1})
            self.assertEqual(code, 400, body)
        finally:
            if broker:
                broker.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
