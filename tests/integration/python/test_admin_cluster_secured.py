"""The REST proxy and the console of a 3-broker cluster whose only Kafka
listeners are SASL_SSL (no PLAINTEXT anywhere; SCRAM users in etcd, the
StandardAuthorizer on, brokers replicating over SASL_SSL as User:broker) and
whose admin listeners are https:// with HTTP Basic. Through broker 1's
proxy alone:

- alice (ACLs on topic `spread` and group prefix `alice-`) produces to the
  partitions led by brokers 1, 2 and 3: broker 1 reaches 2 and 3 over TLS
  and logs in there as alice with the request's password (SCRAM: the
  listeners offer no PLAIN), so their authorizers judge alice; the records
  are read back with confluent-kafka;
- bob, a user with no ACLs, gets 40301 for the same produce;
- a consumer instance of alice on broker 1 reads every partition (fetches
  from the three leaders, the group's coordinator wherever it is);
- broker 1's console reads the other brokers' /metrics over https, with
  the request's Basic credentials.
The same again over SASL_PLAINTEXT listeners that offer PLAIN (the proxy
logs in with PLAIN, without TLS) and plain-HTTP admin listeners.
"""
import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, KafkaAdminClient,
                         ResourcePattern, ResourceType)

import etcd
from broker import Broker, free_port
from cluster import Cluster, wait_for
from tls_certs import make_certs

CURL = shutil.which("curl")
V2 = "application/vnd.kafka.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
BROKER_PASSWORD = "broker-secret"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def runnel(*args):
    return subprocess.run([os.environ["RUNNEL_BIN"], *args], capture_output=True, text=True, timeout=30)


@unittest.skipUnless(etcd.available() and CURL, "etcd-server or curl is not installed (make deps installs them)")
class SecuredClusterAdminTest(unittest.TestCase):
    PROTOCOL = "SASL_SSL"
    MECHANISMS = "SCRAM-SHA-256,SCRAM-SHA-512"  # no PLAIN: the proxy logs in with SCRAM
    SCHEME = "https"
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-seccluster-")
        cls.certs = make_certs(cls.tmp)
        cls.c = Cluster(0)
        try:
            cls.c.etcd.start()
            r = runnel("user", "set", "broker", "--password", BROKER_PASSWORD, "--mechanism", "SCRAM-SHA-512",
                       "--etcd", cls.c.etcd.url)
            assert r.returncode == 0, r.stderr
            for user, password in USERS.items():
                r = runnel("user", "set", user, "--password", password, "--etcd", cls.c.etcd.url)
                assert r.returncode == 0, r.stderr
            cls.admin_ports = {}
            for n in (1, 2, 3):
                cls.start_broker(n)
            cls.bootstrap = ",".join(b.tls for b in cls.c.brokers.values())
            admin = AdminClient(cls.conf("admin"))
            assert wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3), "the brokers did not meet"
            admin.create_topics([NewTopic("spread", 3, replica_assignment=[[1], [2], [3]])])["spread"].result(15)

            def leaders():
                p = admin.list_topics("spread", timeout=5).topics["spread"].partitions
                return {i: p[i].leader for i in p} if len(p) == 3 else None
            assert wait_for(lambda: leaders() == {0: 1, 1: 2, 2: 3}), leaders()

            kp = KafkaAdminClient(bootstrap_servers=cls.bootstrap, security_protocol=cls.PROTOCOL,
                                  ssl_cafile=cls.certs["ca.pem"], sasl_mechanism="SCRAM-SHA-256",
                                  sasl_plain_username="admin", sasl_plain_password=USERS["admin"],
                                  request_timeout_ms=10000, api_version_auto_timeout_ms=5000)
            try:
                def allow(op, rtype, name, pattern=ACLResourcePatternType.LITERAL):
                    return ACL(principal="User:alice", host="*", operation=op,
                               permission_type=ACLPermissionType.ALLOW,
                               resource_pattern=ResourcePattern(rtype, name, pattern))
                result = kp.create_acls([allow(ACLOperation.WRITE, ResourceType.TOPIC, "spread"),
                                         allow(ACLOperation.READ, ResourceType.TOPIC, "spread"),
                                         allow(ACLOperation.READ, ResourceType.GROUP, "alice-",
                                               ACLResourcePatternType.PREFIXED)])
                assert result["failed"] == [], result
            finally:
                kp.close()
            time.sleep(1)  # every broker's watch installs the ACLs
        except BaseException:
            cls.c.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def start_broker(cls, n):
        port, admin_port = free_port(), free_port()
        cls.admin_ports[n] = admin_port
        jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" '
                'password="%s";' % BROKER_PASSWORD)
        b = Broker(sets={"listeners": "%s://127.0.0.1:%d" % (cls.PROTOCOL, port),
                         "security.inter.broker.protocol": cls.PROTOCOL,
                         "sasl.enabled.mechanisms": cls.MECHANISMS,
                         "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                         "listener.name.%s.scram-sha-512.sasl.jaas.config" % cls.PROTOCOL.lower(): jaas,
                         "ssl.keystore.type": "PEM", "ssl.keystore.location": cls.certs["broker-keystore.pem"],
                         "ssl.truststore.location": cls.certs["ca.pem"],
                         "authorizer.class.name": AUTHORIZER, "allow.everyone.if.no.acl.found": "false",
                         "super.users": "User:broker;User:admin",
                         "runnel.admin.listen": "%s://127.0.0.1:%d" % (cls.SCHEME, admin_port),
                         "runnel.admin.authentication": "basic",
                         "group.initial.rebalance.delay.ms": 0},
                   plaintext_listener=False, args=["--node-id", str(n), "--etcd", cls.c.etcd.url])
        b.port = port
        b.tls = "127.0.0.1:%d" % port
        cls.c.brokers[n] = b
        b.start()

    @classmethod
    def conf(cls, user, **extra):
        c = {"bootstrap.servers": cls.bootstrap, "security.protocol": cls.PROTOCOL, "sasl.mechanisms": "SCRAM-SHA-256",
             "sasl.username": user, "sasl.password": USERS[user], "ssl.ca.location": cls.certs["ca.pem"],
             "socket.timeout.ms": 10000}
        c.update(extra)
        return c

    def curl(self, user, method, path, body=None, content_type=V2, accept=V2):
        args = [CURL, "-s", "--cacert", self.certs["ca.pem"], "-u", "%s:%s" % (user, USERS[user]), "-X", method,
                "-H", "Accept: " + accept, "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "Content-Type: " + content_type, "--data-binary", json.dumps(body)]
        out = subprocess.run(args + ["%s://127.0.0.1:%d%s" % (self.SCHEME, self.admin_ports[1], path)], capture_output=True,
                             text=True, timeout=60).stdout
        text, _, code = out.rpartition("\n")
        return int(code), (json.loads(text) if text.strip() else None)

    def read_back(self, tag, count):
        """(partition, n) of the records whose value has "tag": tag, read as admin."""
        c = Consumer(self.conf("admin", **{"group.id": "check-" + tag, "enable.auto.commit": False}))
        got, deadline = set(), time.time() + 20
        try:
            c.assign([TopicPartition("spread", p, 0) for p in range(3)])
            while len(got) < count and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    v = json.loads(m.value())
                    if v.get("tag") == tag:
                        got.add((m.partition(), v["n"]))
        finally:
            c.close()
        return got

    def test_produce_to_every_leader_as_the_basic_user(self):
        records = {"records": [{"value": {"tag": "produce", "n": p}, "partition": p} for p in range(3)]}
        code, body = self.curl("alice", "POST", "/topics/spread", records, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertEqual([(o["partition"], o["error_code"]) for o in body["offsets"]], [(p, None) for p in range(3)])
        self.assertEqual(self.read_back("produce", 3), {(p, p) for p in range(3)})
        # A user without ACLs: refused by the authorizers, as Confluent's proxy says it.
        for p in (1, 2):  # led by brokers 2 and 3
            code, body = self.curl("bob", "POST", "/topics/spread/partitions/%d" % p,
                                   {"records": [{"value": {"tag": "bob"}}]}, JSON_V2)
            self.assertEqual(code, 403, body)
            self.assertEqual(body["error_code"], 40301)
        # The partition endpoint on a partition led by broker 3, as alice.
        code, body = self.curl("alice", "POST", "/topics/spread/partitions/2",
                               {"records": [{"value": {"tag": "one", "n": 7}}]}, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertIsNone(body["offsets"][0]["error_code"])
        self.assertEqual(self.read_back("one", 1), {(2, 7)})

    def test_consumer_instance_reads_every_leader(self):
        records = {"records": [{"value": {"tag": "consume", "n": p}, "partition": p} for p in range(3)]}
        code, body = self.curl("admin", "POST", "/topics/spread", records, JSON_V2)
        self.assertEqual(code, 200, body)
        inst = "/consumers/alice-g/instances/c1"
        code, body = self.curl("alice", "POST", "/consumers/alice-g",
                               {"name": "c1", "format": "json", "auto.offset.reset": "earliest"})
        self.assertEqual(code, 200, body)
        try:
            code, body = self.curl("alice", "POST", inst + "/subscription", {"topics": ["spread"]})
            self.assertEqual(code, 204, body)
            got, deadline = set(), time.time() + 30
            while len(got) < 3 and time.time() < deadline:
                code, batch = self.curl("alice", "GET", inst + "/records?timeout=1000", accept=JSON_V2)
                self.assertEqual(code, 200, batch)
                got |= {(r["partition"], r["value"]["n"]) for r in batch if r["value"].get("tag") == "consume"}
            self.assertEqual(got, {(p, p) for p in range(3)})
        finally:
            self.curl("alice", "DELETE", inst)

    def test_console_reads_the_peers(self):
        context = ssl.create_default_context(cafile=self.certs["ca.pem"])
        req = urllib.request.Request("%s://127.0.0.1:%d/v1/console/cluster/metrics" % (self.SCHEME,
                                                                                      self.admin_ports[1]))
        req.add_header("Authorization", "Basic " + base64.b64encode(b"alice:alice-secret").decode())
        with urllib.request.urlopen(req, context=context, timeout=15) as r:
            brokers = {b["node_id"]: b for b in json.loads(r.read())["brokers"]}
        self.assertEqual(sorted(brokers), [1, 2, 3])
        for n in (1, 2, 3):
            self.assertEqual(brokers[n]["status"], "ok", brokers[n])
            self.assertEqual(brokers[n]["admin"], "%s://127.0.0.1:%d" % (self.SCHEME, self.admin_ports[n]))
            self.assertIn("runnel_connections", brokers[n]["metrics"])


class SaslPlaintextClusterAdminTest(SecuredClusterAdminTest):
    """The same over SASL_PLAINTEXT listeners offering PLAIN (the proxy's
    login to the other brokers without TLS, with PLAIN) and plain-HTTP
    admin listeners."""
    PROTOCOL = "SASL_PLAINTEXT"
    MECHANISMS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    SCHEME = "http"


if __name__ == "__main__":
    unittest.main()
