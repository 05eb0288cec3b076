"""A cluster's SASL users are the cluster's, kept in etcd (key
scram-credentials): three brokers with SASL_PLAINTEXT client listeners and
an inter-broker listener authenticated as a user that `runnel user set
--etcd` created before the first broker started (fresh data dirs, no
credentials file anywhere). A SCRAM-SHA-256 user created with
AlterUserScramCredentials on broker 1 logs in on brokers 2 and 3 and
produces and consumes there; DescribeUserScramCredentials on broker 2 shows
it; deleted through broker 3 it is refused on broker 1
(SASL_AUTHENTICATION_FAILED); a restarted broker keeps the users; `runnel
user list|delete --etcd` see and change the same users. And the migration: a
broker whose data dir has a credentials file uploads it when the cluster has
none, and a later broker's own file is ignored (etcd wins)."""
import hashlib
import os
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import etcd
import kproto
from broker import Broker, free_port
from cluster import Cluster, wait_for

BROKER_PASSWORD = "broker-secret"
SASL_AUTHENTICATION_FAILED = 58
RESOURCE_NOT_FOUND = 91


def runnel(*args):
    return subprocess.run([os.environ["RUNNEL_BIN"], *args], capture_output=True, text=True, timeout=30)


def plain_login(port, user, password):
    """SaslHandshake v1 + SaslAuthenticate v1 with PLAIN (checked against the
    user's SCRAM credential) on a fresh connection; -> the error code."""
    c = kproto.Conn(port, timeout=10)
    try:
        c.send(kproto.frame(kproto.header_v1(17, 1, 1) + kproto.string("PLAIN")))
        r = kproto.Reader(c.recv_frame())
        assert (r.i32(), r.i16()) == (1, 0)
        token = b"\0" + user.encode() + b"\0" + password.encode()
        c.send(kproto.frame(kproto.header_v1(36, 1, 2) + kproto.nbytes(token)))
        r = kproto.Reader(c.recv_frame())
        assert r.i32() == 2
        return r.i16()
    finally:
        c.close()


def scram_request(port, api_key, body, correlation_id):
    """A v0 Describe/AlterUserScramCredentials on the harness's PLAINTEXT port."""
    c = kproto.Conn(port, timeout=15)
    try:
        c.send(kproto.frame(kproto.header_v2(api_key, 0, correlation_id) + body))
        corr, r = kproto.flexible_response(c.recv_frame())
        assert corr == correlation_id
        return r
    finally:
        c.close()


def alter_users(port, deletions=(), upsertions=()):
    """-> {user: error code}. upsertions: (name, password, iterations), SCRAM-SHA-256."""
    dels = [kproto.cstring(n) + kproto.i8(1) + kproto.NO_TAGS for n in deletions]
    ups = []
    for name, password, iterations in upsertions:
        salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        ups.append(kproto.cstring(name) + kproto.i8(1) + kproto.i32(iterations) + kproto.cbytes(salt)
                   + kproto.cbytes(salted) + kproto.NO_TAGS)
    r = scram_request(port, 51, kproto.carray(dels) + kproto.carray(ups) + kproto.NO_TAGS, 12)
    r.i32()  # throttle
    out = {}
    for _ in range(r.carray_len()):
        user, error, _message = r.cstring(), r.i16(), r.cstring()
        r.tags()
        out[user] = error
    return out


def describe_users(port):
    """-> {user: [(mechanism, iterations)]} of every user."""
    r = scram_request(port, 50, kproto.carray(None) + kproto.NO_TAGS, 11)
    r.i32()
    assert r.i16() == 0
    r.cstring()
    out = {}
    for _ in range(r.carray_len()):
        user, _error, _message = r.cstring(), r.i16(), r.cstring()
        infos = []
        for _ in range(r.carray_len()):
            infos.append((r.take(1)[0], r.i32()))
            r.tags()
        r.tags()
        out[user] = infos
    return out


def sasl_conf(bootstrap, user, password, **extra):
    c = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
         "sasl.username": user, "sasl.password": password, "socket.timeout.ms": 10000}
    c.update(extra)
    return c


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterCredentialsTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(0)
        self.c.etcd.start()

    def tearDown(self):
        self.c.cleanup()

    def start_broker(self, n, inter_broker_sasl=True):
        port = free_port()
        sets = {"listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
                "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
                "replica.fetch.wait.max.ms": "200"}
        if inter_broker_sasl:
            sets.update({"security.inter.broker.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                         "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
                             'org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" '
                             'password="%s";' % BROKER_PASSWORD})
        b = Broker(sets=sets, args=["--node-id", str(n), "--etcd", self.c.etcd.url])
        b.sasl_port = port
        b.sasl = "127.0.0.1:%d" % port
        self.c.brokers[n] = b
        return b

    def login(self, n, user, password):
        return plain_login(self.c.brokers[n].sasl_port, user, password)

    def test_users_are_the_clusters(self):
        # Before the first broker: the inter-broker user, in etcd.
        r = runnel("user", "set", "broker", "--password", BROKER_PASSWORD, "--mechanism", "SCRAM-SHA-512",
                   "--etcd", self.c.etcd.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("created cluster", r.stderr)
        for n in (1, 2, 3):
            self.start_broker(n).start()
        self.assertTrue(wait_for(lambda: all(self.c.view(n) and sorted(self.c.view(n)[0]) == [1, 2, 3]
                                             for n in (1, 2, 3))))
        for n in (1, 2, 3):  # no broker keeps a file of its own
            self.assertFalse(os.path.exists(os.path.join(self.c.brokers[n].data_dir, "meta", "scram-credentials")))

        # Created on broker 1 ...
        self.assertEqual(alter_users(self.c.brokers[1].port, upsertions=[("alice", "alice-pw", 4096),
                                                                          ("carol", "carol-pw", 8192)]),
                         {"alice": 0, "carol": 0})
        # ... it logs in on brokers 2 and 3 (each installs it from its watch).
        for n in (2, 3):
            self.assertEqual(wait_for(lambda: self.login(n, "alice", "alice-pw") == 0, timeout=10), True, n)
            self.assertEqual(self.login(n, "alice", "wrong"), SASL_AUTHENTICATION_FAILED)
        self.assertEqual(describe_users(self.c.brokers[2].port),
                         {"alice": [(1, 4096)], "broker": [(2, 4096)], "carol": [(1, 8192)]})
        listing = runnel("user", "list", "--etcd", self.c.etcd.url)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertRegex(listing.stdout, r"alice\s+SCRAM-SHA-256\s+4096")
        self.assertRegex(listing.stdout, r"broker\s+SCRAM-SHA-512\s+4096")

        # SCRAM-SHA-256 clients on brokers 2 and 3: a topic replicated over the
        # authenticated inter-broker listener, written and read back.
        admin = AdminClient(sasl_conf(self.c.brokers[2].sasl, "alice", "alice-pw"))
        futures = admin.create_topics([NewTopic("shared", 1, 3, config={"min.insync.replicas": "2"})])
        futures["shared"].result(timeout=15)
        p = Producer(sasl_conf(self.c.brokers[2].sasl, "alice", "alice-pw", **{"acks": "all",
                                                                                  "message.timeout.ms": 20000}))
        delivered = []
        for i in range(20):
            p.produce("shared", value=b"v%d" % i, partition=0, on_delivery=lambda err, msg: delivered.append(err))
        p.flush(25)
        self.assertEqual(delivered, [None] * 20)
        consumer = Consumer(sasl_conf(self.c.brokers[3].sasl, "alice", "alice-pw",
                                      **{"group.id": "g", "enable.auto.commit": False}))
        try:
            consumer.assign([TopicPartition("shared", 0, 0)])
            values = []
            deadline = time.time() + 20
            while time.time() < deadline and len(values) < 20:
                m = consumer.poll(0.5)
                if m is not None and m.error() is None:
                    values.append(m.value())
        finally:
            consumer.close()
        self.assertEqual(values, [b"v%d" % i for i in range(20)])

        # Deleted through broker 3: refused on broker 1.
        self.assertEqual(alter_users(self.c.brokers[3].port, deletions=["alice"]), {"alice": 0})
        self.assertEqual(alter_users(self.c.brokers[3].port, deletions=["alice"]), {"alice": RESOURCE_NOT_FOUND})
        self.assertTrue(wait_for(lambda: self.login(1, "alice", "alice-pw") == SASL_AUTHENTICATION_FAILED,
                                 timeout=10))
        self.assertEqual(self.login(1, "carol", "carol-pw"), 0)

        # A restarted broker keeps the users (it reads them from etcd).
        self.c.brokers[2].stop()
        self.c.brokers[2].restart()
        self.assertEqual(self.login(2, "carol", "carol-pw"), 0)
        self.assertEqual(self.login(2, "alice", "alice-pw"), SASL_AUTHENTICATION_FAILED)
        # `runnel user delete --etcd` reaches the running brokers too.
        r = runnel("user", "delete", "carol", "--etcd", self.c.etcd.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(runnel("user", "delete", "carol", "--etcd", self.c.etcd.url).returncode, 1)
        self.assertTrue(wait_for(lambda: self.login(3, "carol", "carol-pw") == SASL_AUTHENTICATION_FAILED,
                                 timeout=10))
        for n in (1, 2, 3):
            self.assertTrue(self.c.brokers[n].alive(), self.c.brokers[n].log())
            with open(self.c.brokers[n].log_path, errors="replace") as f:
                log = f.read()  # the whole log, start-up included
            self.assertNotIn("authentication failed to node", log)
            self.assertNotIn("has no SCRAM-SHA-512 credential", log)

    def test_a_data_dir_file_is_uploaded_once(self):
        first = self.start_broker(1, inter_broker_sasl=False)
        r = runnel("user", "set", "legacy", "--password", "legacy-pw", "--data-dir", first.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        first.start()
        self.assertTrue(wait_for(lambda: "uploaded the 1 users" in first.log(), timeout=10), first.log())
        second = self.start_broker(2, inter_broker_sasl=False)
        r = runnel("user", "set", "other", "--password", "other-pw", "--data-dir", second.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        second.start()
        self.assertTrue(wait_for(lambda: "is ignored: the cluster's SCRAM credentials are in etcd" in second.log(),
                                 timeout=10), second.log())
        self.assertEqual(self.login(2, "legacy", "legacy-pw"), 0)
        self.assertEqual(self.login(2, "other", "other-pw"), SASL_AUTHENTICATION_FAILED)
        self.assertEqual(self.login(1, "other", "other-pw"), SASL_AUTHENTICATION_FAILED)
        # The first broker's file is not uploaded again over the cluster's
        # users, even once the cluster has none left.
        self.assertEqual(alter_users(first.port, deletions=["legacy"]), {"legacy": 0})
        first.stop()
        first.restart()
        self.assertIn("is ignored", first.log())
        self.assertEqual(self.login(1, "legacy", "legacy-pw"), SASL_AUTHENTICATION_FAILED)
        self.assertEqual(describe_users(second.port), {})


if __name__ == "__main__":
    unittest.main()
