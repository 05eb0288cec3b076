"""Brokers replicating over a TLS inter-broker listener. Three brokers whose
only listener besides the harness's PLAINTEXT one is SSL (or SASL_SSL), with
security.inter.broker.protocol naming it, ssl.client.auth=required, the
authorizer on, allow.everyone.if.no.acl.found=false and no ACL for
User:ANONYMOUS:

- SSL: the brokers present their keystore certificate (CN=broker,O=runnel)
  to each other, which names their principal User:CN=broker,O=runnel, a super
  user. acks=all with min.insync.replicas=2 succeeds (the followers fetch over
  mutual TLS), transactions commit (their markers go to the partition's
  leader over mutual TLS), the leader is killed with SIGKILL and everything is read back
  from the new leader, which takes new writes. A PLAINTEXT client posing as a
  follower is refused on the PLAINTEXT port (User:ANONYMOUS) and dropped at
  the TLS port's handshake.
- SASL_SSL: TLS, then the SCRAM login as User:broker (the super user here;
  the certificate's principal is not): acks=all works, and deleting the
  topic stops the followers' fetchers mid-fetch without harm.
- A broker whose truststore does not hold the CA of its peers' certificates
  cannot fetch: it leaves the ISR, its log says which peer and why, and a
  restart with the right truststore brings it back."""
import shutil
import socket
import tempfile
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import etcd
import kproto
from broker import Broker, free_port
from cluster import Cluster, wait_for
from test_acls import AUTHORIZER, runnel
from test_inter_broker_sasl import BROKER_PASSWORD, TOPIC_AUTHORIZATION_FAILED, follower_fetch, jaas
from tls_certs import make_certs

BROKER_PRINCIPAL = "User:CN=broker,O=runnel"


def full_log(b):
    """The broker's whole log (Broker.log() keeps only its end)."""
    with open(b.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")
CLIENT_PRINCIPAL = "User:CN=client1,O=runnel"


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class InterBrokerTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-ibtls-")
        cls.certs = make_certs(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.c = Cluster(0)
        self.c.etcd.start()
        self.protocol = "SSL"

    def tearDown(self):
        self.c.cleanup()

    def broker_sets(self, port, truststore):
        sets = {"listeners": "%s://127.0.0.1:%d" % (self.protocol, port),
                "security.inter.broker.protocol": self.protocol,
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": self.certs["broker-keystore.pem"],
                "ssl.truststore.location": truststore,
                "ssl.client.auth": "required",
                "authorizer.class.name": AUTHORIZER,
                "allow.everyone.if.no.acl.found": "false",
                "replica.lag.time.max.ms": "4000", "replica.fetch.wait.max.ms": "200",
                # Three coordinators' partitions, spread over the brokers: the
                # markers for a partition led elsewhere go out as WriteTxnMarkers.
                "transaction.state.log.num.partitions": "3"}
        if self.protocol == "SSL":
            # The certificates name the principals.
            sets["super.users"] = "%s;%s" % (BROKER_PRINCIPAL, CLIENT_PRINCIPAL)
        else:
            # SASL names them; the certificate only gets the connection in.
            sets.update({"super.users": "User:broker;User:admin",
                         "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                         "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                         "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas(BROKER_PASSWORD)})
        return sets

    def start_broker(self, n, truststore=None):
        port = free_port()
        b = Broker(sets=self.broker_sets(port, truststore or self.certs["ca.pem"]),
                   args=["--node-id", str(n), "--etcd", self.c.etcd.url])
        b.tls = "127.0.0.1:%d" % port
        if self.protocol == "SASL_SSL":
            for user, password in (("broker", BROKER_PASSWORD), ("admin", "admin-secret")):
                r = runnel("user", "set", user, "--password", password, "--mechanism", "SCRAM-SHA-512",
                           "--data-dir", b.data_dir)
                self.assertEqual(r.returncode, 0, r.stderr)
        self.c.brokers[n] = b
        b.start()
        return b

    def start_cluster(self, truststores=None):
        for n in (1, 2, 3):
            self.start_broker(n, (truststores or {}).get(n))
        self.assertTrue(wait_for(lambda: all(self.c.view(n) and sorted(self.c.view(n)[0]) == [1, 2, 3]
                                             for n in self.c.brokers)))

    def client_conf(self, exclude=(), **extra):
        """A client of the TLS listeners: client1's certificate (a super user
        on SSL), plus the admin's SCRAM login on SASL_SSL."""
        conf = {"bootstrap.servers": ",".join(b.tls for n, b in self.c.brokers.items()
                                              if n not in exclude and b.alive()),
                "security.protocol": self.protocol, "ssl.ca.location": self.certs["ca.pem"],
                "ssl.certificate.location": self.certs["client.pem"], "ssl.key.location": self.certs["client.key"]}
        if self.protocol == "SASL_SSL":
            conf.update({"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "admin",
                         "sasl.password": "admin-secret"})
        conf.update(extra)
        return conf

    def create_topic(self, name, assignment):
        admin = AdminClient(self.client_conf())
        futures = admin.create_topics([NewTopic(name, 1, replica_assignment=[assignment],
                                                config={"min.insync.replicas": "2"})])
        futures[name].result(15)

    def partition(self, topic, exclude=()):
        """(leader, isr) of partition 0, or None."""
        try:
            md = AdminClient(self.client_conf(exclude)).list_topics(topic, timeout=5)
            p = md.topics[topic].partitions.get(0)
            return (p.leader, sorted(p.isrs)) if p and p.error is None else None
        except Exception:
            return None

    def produce(self, topic, values, timeout=20):
        """acks=all; the delivery errors (None: delivered)."""
        results = []
        p = Producer(self.client_conf(**{"acks": "all", "message.timeout.ms": timeout * 1000,
                                         "request.timeout.ms": 5000}))
        for v in values:
            p.produce(topic, value=v, partition=0, on_delivery=lambda err, msg: results.append(err))
        p.flush(timeout + 5)
        return [None if e is None else e.code() for e in results]

    def produce_transactions(self, topic, ids, value):
        """One committed transaction per transactional id; the values written."""
        written = []
        for tid in ids:
            p = Producer(self.client_conf(**{"transactional.id": tid, "transaction.timeout.ms": 20000}))
            p.init_transactions(20)
            p.begin_transaction()
            p.produce(topic, value=value(tid), partition=0)
            p.commit_transaction(20)
            written.append(value(tid))
        return written

    def read(self, node, topic, count, timeout=20):
        conf = self.client_conf(**{"group.id": "unused", "enable.auto.commit": False, "fetch.wait.max.ms": 100})
        conf["bootstrap.servers"] = self.c.brokers[node].tls
        c = Consumer(conf)
        values = []
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            deadline = time.time() + timeout
            while time.time() < deadline and len(values) < count:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    values.append(m.value())
        finally:
            c.close()
        return values

    def plaintext_on_tls_port(self, address, topic):
        """A follower's Fetch sent in plaintext to a TLS port: the bytes that
        come back before the broker closes the connection."""
        host, port = address.split(":")
        body = kproto.header_v2(1, 12, 7) + kproto.i32(2) + kproto.i32(100) + kproto.i32(1)
        body += kproto.i32(1 << 20) + kproto.i8(0) + kproto.i32(0) + kproto.i32(-1)
        part = (kproto.i32(0) + kproto.i32(-1) + kproto.i64(0) + kproto.i32(-1) + kproto.i64(-1)
                + kproto.i32(1 << 20) + kproto.NO_TAGS)
        body += kproto.carray([kproto.cstring(topic) + kproto.carray([part]) + kproto.NO_TAGS])
        body += kproto.carray([]) + kproto.cstring("") + kproto.NO_TAGS
        s = socket.create_connection((host, int(port)), timeout=15)
        received = b""
        try:
            s.sendall(kproto.frame(body))
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        finally:
            s.close()
        return received

    def test_ssl_replication_failover_and_refused_impostors(self):
        self.start_cluster()
        self.create_topic("replicated", [1, 2, 3])
        self.assertEqual(wait_for(lambda: self.partition("replicated")), (1, [1, 2, 3]))
        values = [b"v%d" % i for i in range(50)]
        # acks=all, min.insync.replicas=2: answered only once a follower has
        # fetched it over mutual TLS as User:CN=broker,O=runnel.
        self.assertEqual(self.produce("replicated", values), [None] * 50)
        self.assertTrue(wait_for(lambda: self.partition("replicated") == (1, [1, 2, 3])))
        # Transactions whose coordinators live on all three brokers: the
        # commit markers reach the partition's leader over mutual TLS, or a
        # read_committed consumer (librdkafka's default) would stop short.
        values += self.produce_transactions("replicated", ["t%d" % i for i in range(6)], lambda t: t.encode())
        # The leader saw the followers' certificates.
        self.assertIn("principal %s" % BROKER_PRINCIPAL, full_log(self.c.brokers[1]))
        # A client on the PLAINTEXT listener posing as a follower is refused:
        # ANONYMOUS has no CLUSTER_ACTION (and the brokers do not need it to).
        error, partition_error = follower_fetch(self.c.brokers[1].port, "replicated", 2)
        self.assertIn(TOPIC_AUTHORIZATION_FAILED, (error, partition_error))
        # On the TLS port a plaintext follower gets no Kafka answer at all: at
        # most a TLS alert record (content type 21), then the connection closes.
        answer = self.plaintext_on_tls_port(self.c.brokers[1].tls, "replicated")
        self.assertTrue(answer == b"" or answer[0] == 21, answer[:16])
        self.assertTrue(wait_for(lambda: "TLS handshake failed on listener SSL" in full_log(self.c.brokers[1]), 10))

        self.c.brokers[1].kill9()
        moved = wait_for(lambda: (lambda p: p if p and p[0] in (2, 3) else None)(
            self.partition("replicated", exclude=(1,))))
        self.assertTrue(moved, "no new leader")
        self.assertEqual(self.read(moved[0], "replicated", len(values)), values)
        # The new leader takes acks=all writes: the other follower fetches
        # from it over TLS.
        self.assertEqual(self.produce("replicated", [b"after"]), [None])
        for n in (2, 3):
            self.assertTrue(self.c.brokers[n].alive(), self.c.brokers[n].log())
            self.assertNotIn("TLS handshake failed with", full_log(self.c.brokers[n]))

    def test_sasl_ssl_replication(self):
        self.protocol = "SASL_SSL"
        self.start_cluster()
        self.create_topic("sasl_ssl", [2, 3, 1])
        self.assertEqual(wait_for(lambda: self.partition("sasl_ssl")), (2, [1, 2, 3]))
        values = [b"s%d" % i for i in range(20)]
        self.assertEqual(self.produce("sasl_ssl", values), [None] * 20)
        self.assertTrue(wait_for(lambda: self.partition("sasl_ssl") == (2, [1, 2, 3])))
        self.assertEqual(self.read(2, "sasl_ssl", 20), values)
        # Deleted while the followers long-poll the leader over TLS: their
        # fetchers stop with a fetch in flight on the TLS stream.
        admin = AdminClient(self.client_conf())
        admin.delete_topics(["sasl_ssl"])["sasl_ssl"].result(15)
        self.assertTrue(wait_for(lambda: "sasl_ssl" not in admin.list_topics(timeout=5).topics))
        time.sleep(1)
        for n in (1, 2, 3):
            self.assertTrue(self.c.brokers[n].alive(), full_log(self.c.brokers[n])[-3000:])
        for n in (1, 3):
            log = full_log(self.c.brokers[n])
            self.assertNotIn("authentication failed", log)
            self.assertNotIn("TLS handshake failed with node", log)

    def test_a_broker_that_does_not_trust_its_peers_stays_out_of_the_isr(self):
        # Broker 3 trusts only the rogue certificate, not the CA that signs
        # the others' (its own certificate is fine: the others accept it).
        self.start_cluster(truststores={3: self.certs["rogue.pem"]})
        self.create_topic("guarded", [1, 2, 3])
        self.assertTrue(wait_for(lambda: self.partition("guarded") == (1, [1, 2]), timeout=30),
                        self.partition("guarded"))
        self.assertEqual(self.produce("guarded", [b"x"]), [None])  # min.insync.replicas=2: 1 and 2
        b3 = self.c.brokers[3]
        log = full_log(b3)
        self.assertTrue(b3.alive(), log)
        self.assertIn("replica fetcher: TLS handshake failed with node 1 at %s" % self.c.brokers[1].tls, log)
        self.assertIn("certificate verify failed", log)
        self.assertIn("ssl.truststore.location %s" % self.certs["rogue.pem"], log)
        self.assertIn("the peer presented CN=broker,O=runnel", log)
        # Fixed truststore, restart: broker 3 catches up and rejoins the ISR.
        b3.stop()
        b3.sets["ssl.truststore.location"] = self.certs["ca.pem"]
        b3.restart()
        self.assertTrue(wait_for(lambda: self.partition("guarded") == (1, [1, 2, 3]), timeout=30),
                        self.partition("guarded"))
        self.assertNotIn("TLS handshake failed with node", full_log(b3).split("received signal")[-1])


if __name__ == "__main__":
    unittest.main()
