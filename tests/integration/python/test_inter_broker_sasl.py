"""The authenticated inter-broker listener: three brokers whose only client
listener besides the harness's PLAINTEXT one is SASL_PLAINTEXT, with
security.inter.broker.protocol=SASL_PLAINTEXT and SCRAM-SHA-512 as
User:broker (a super user), the authorizer on and
allow.everyone.if.no.acl.found=false, and no ACL for User:ANONYMOUS. A
replicated topic takes acks=all writes from an authorized client (which needs
the followers to fetch, and so to log in) and is read back from a follower
after the leader's SIGKILL, while a PLAINTEXT client posing as a follower is
refused. Transactions over partitions led by three brokers: verification
(AddPartitionsToTxn v5) and markers go broker to broker over SASL. With a
wrong inter-broker password the followers
cannot replicate: the ISR shrinks, acks=all fails, and their logs say that
authentication failed, while they keep running and retrying."""
import os
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from kafka.admin import ACLOperation, ACLPermissionType, NewTopic, ResourceType

import etcd
import kproto
from broker import Broker, free_port
from cluster import Cluster, wait_for
from test_acls import AUTHORIZER, USERS, acl, add_users, conf, kp_admin, runnel

BROKER_PASSWORD = "broker-secret"
TOPIC_AUTHORIZATION_FAILED = 29


def jaas(password):
    return ('org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" '
            'password="%s";' % password)


def follower_fetch(port, topic, replica_id):
    """Fetch v12 for partition 0 as follower `replica_id` sends it, on a
    PLAINTEXT port (so as User:ANONYMOUS); -> (error, partition error)."""
    body = kproto.header_v2(1, 12, 7) + kproto.i32(replica_id) + kproto.i32(100) + kproto.i32(1)
    body += kproto.i32(1 << 20) + kproto.i8(0) + kproto.i32(0) + kproto.i32(-1)
    part = (kproto.i32(0) + kproto.i32(-1) + kproto.i64(0) + kproto.i32(-1) + kproto.i64(-1) + kproto.i32(1 << 20)
            + kproto.NO_TAGS)
    body += kproto.carray([kproto.cstring(topic) + kproto.carray([part]) + kproto.NO_TAGS])
    body += kproto.carray([]) + kproto.cstring("") + kproto.NO_TAGS
    c = kproto.Conn(port, timeout=10)
    try:
        c.send(kproto.frame(body))
        _, error, partitions, _ = kproto.parse_fetch_flexible(c.recv_frame(), 12)
    finally:
        c.close()
    return error, (partitions[0]["error"] if partitions else None)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class InterBrokerSaslTest(unittest.TestCase):
    def setUp(self):
        self.c = Cluster(0)
        self.c.etcd.start()

    def tearDown(self):
        self.c.cleanup()

    def start_broker(self, n, password=BROKER_PASSWORD):
        port = free_port()
        sets = {"listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
                "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
                "security.inter.broker.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": jaas(password),
                "authorizer.class.name": AUTHORIZER, "super.users": "User:admin;User:broker",
                "allow.everyone.if.no.acl.found": "false",
                "replica.lag.time.max.ms": "4000", "replica.fetch.wait.max.ms": "200",
                "transaction.state.log.num.partitions": "3"}
        b = Broker(sets=sets, args=["--node-id", str(n), "--etcd", self.c.etcd.url])
        b.sasl = "127.0.0.1:%d" % port
        add_users(b.data_dir)
        # The brokers' own login, in every data dir: the first broker to start
        # uploads its file to etcd (the cluster has no credentials yet), the
        # others' files are ignored (test_cluster_credentials.py).
        r = runnel("user", "set", "broker", "--password", BROKER_PASSWORD, "--mechanism", "SCRAM-SHA-512",
                   "--data-dir", b.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.c.brokers[n] = b
        b.start()
        return b

    def start_cluster(self, passwords):
        for n, password in passwords.items():
            self.start_broker(n, password)
        self.assertTrue(wait_for(lambda: all(self.c.view(n) and sorted(self.c.view(n)[0]) == [1, 2, 3]
                                             for n in self.c.brokers)))

    def sasl_bootstrap(self, exclude=()):
        return ",".join(b.sasl for n, b in self.c.brokers.items() if n not in exclude and b.alive())

    def create_topic(self, name, assignment):
        admin = kp_admin(self.c.brokers[1].sasl)
        try:
            admin.create_topics([NewTopic(name, -1, -1, replica_assignments={0: assignment},
                                          topic_configs={"min.insync.replicas": "2"})])
            admin.create_acls([acl("User:alice", op, ResourceType.TOPIC, name)
                               for op in (ACLOperation.WRITE, ACLOperation.READ)])
        finally:
            admin.close()

    def partition(self, topic, exclude=()):
        """(leader, isr) of partition 0 as the admin user sees it, or None."""
        admin = AdminClient({"bootstrap.servers": self.sasl_bootstrap(exclude), "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "admin",
                             "sasl.password": USERS["admin"]})
        try:
            md = admin.list_topics(topic, timeout=5)
            p = md.topics[topic].partitions.get(0)
            return (p.leader, sorted(p.isrs)) if p and p.error is None else None
        except Exception:
            return None

    def produce(self, topic, values, timeout=20):
        """Produces values with acks=all as alice; the delivery errors (None: delivered)."""
        results = []
        p = Producer(conf(self.sasl_bootstrap(), "alice", **{"acks": "all", "message.timeout.ms": timeout * 1000,
                                                             "request.timeout.ms": 5000}))
        for v in values:
            p.produce(topic, value=v, partition=0, on_delivery=lambda err, msg: results.append(err))
        p.flush(timeout + 5)
        return [None if e is None else e.code() for e in results]

    def read(self, bootstrap, topic, count, timeout=20):
        c = Consumer(conf(bootstrap, "alice", **{"group.id": "unused", "enable.auto.commit": False,
                                                 "fetch.wait.max.ms": 100}))
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

    def test_replication_over_the_authenticated_listener(self):
        self.start_cluster({1: BROKER_PASSWORD, 2: BROKER_PASSWORD, 3: BROKER_PASSWORD})
        self.create_topic("replicated", [1, 2, 3])
        self.assertEqual(wait_for(lambda: self.partition("replicated")), (1, [1, 2, 3]))
        values = [b"v%d" % i for i in range(50)]
        # acks=all with min.insync.replicas=2: answered only once a follower
        # fetched it over SASL as User:broker (ANONYMOUS has no ACL at all).
        self.assertEqual(self.produce("replicated", values), [None] * 50)
        self.assertTrue(wait_for(lambda: self.partition("replicated") == (1, [1, 2, 3])))
        # A client on the PLAINTEXT listener posing as a follower is refused:
        # ANONYMOUS has no CLUSTER_ACTION, and the brokers do not need it to.
        error, partition_error = follower_fetch(self.c.brokers[1].port, "replicated", 2)
        self.assertIn(TOPIC_AUTHORIZATION_FAILED, (error, partition_error))
        self.c.brokers[1].kill9()
        moved = wait_for(lambda: (lambda p: p if p and p[0] in (2, 3) else None)(
            self.partition("replicated", exclude=(1,))))
        self.assertTrue(moved, "no new leader")
        new_leader = moved[0]
        self.assertEqual(self.read(self.c.brokers[new_leader].sasl, "replicated", 50), values)
        # The new leader takes writes and the other follower still replicates.
        self.assertEqual(self.produce("replicated", [b"after"]), [None])
        for n in (2, 3):
            self.assertTrue(self.c.brokers[n].alive(), self.c.brokers[n].log())
            self.assertNotIn("authentication failed", self.c.brokers[n].log())

    def test_transactions_verified_and_marked_across_brokers(self):
        # Three partitions led by three brokers: whichever is the coordinator,
        # two leaders verify the transaction's first batches with it
        # (AddPartitionsToTxn v5) and it writes their markers
        # (WriteTxnMarkers), each over SASL as User:broker.
        self.start_cluster({1: BROKER_PASSWORD, 2: BROKER_PASSWORD, 3: BROKER_PASSWORD})
        admin = kp_admin(self.c.brokers[1].sasl)
        try:
            admin.create_topics([NewTopic("txn", -1, -1, replica_assignments={0: [1, 2, 3], 1: [2, 3, 1],
                                                                             2: [3, 1, 2]})])
        finally:
            admin.close()
        self.assertTrue(wait_for(lambda: self.partition("txn") is not None))
        p = Producer(conf(self.sasl_bootstrap(), "admin", **{"transactional.id": "sasl-txn", "linger.ms": 5}))
        p.init_transactions(60)
        for commit in (True, False, True):
            p.begin_transaction()
            for i in range(9):
                p.produce("txn", value=b"%s-%d" % (b"c" if commit else b"a", i), partition=i % 3)
            if commit:
                p.commit_transaction(60)
            else:
                p.abort_transaction(60)
        c = Consumer(conf(self.sasl_bootstrap(), "admin", **{"group.id": "sasl-txn-reader", "isolation.level":
                                                                 "read_committed", "enable.auto.commit": False}))
        values = []
        try:
            c.assign([TopicPartition("txn", n, 0) for n in range(3)])
            deadline = time.time() + 30
            while time.time() < deadline and len(values) < 18:
                m = c.poll(0.5)
                if m is not None and m.error() is None:
                    values.append(m.value())
        finally:
            c.close()
        self.assertEqual(sorted(values), sorted([b"c-%d" % i for i in range(9)] * 2))
        for n in (1, 2, 3):
            log = self.c.brokers[n].log()
            self.assertTrue(self.c.brokers[n].alive(), log)
            self.assertNotIn("authentication failed", log)
            self.assertNotIn("transaction verification", log)

    def test_a_wrong_inter_broker_password_stops_replication(self):
        self.start_cluster({1: BROKER_PASSWORD, 2: "wrong-password", 3: "wrong-password"})
        self.create_topic("guarded", [1, 2, 3])
        # The followers cannot log in to the leader: they leave the ISR ...
        self.assertTrue(wait_for(lambda: self.partition("guarded") == (1, [1]), timeout=30),
                        self.partition("guarded"))
        # ... so acks=all with min.insync.replicas=2 is refused.
        errors = self.produce("guarded", [b"x"], timeout=10)
        self.assertEqual(len(errors), 1)
        self.assertIn(errors[0], (KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                                  KafkaError.REQUEST_TIMED_OUT, KafkaError._MSG_TIMED_OUT))
        for n in (2, 3):
            log = self.c.brokers[n].log()
            self.assertTrue(self.c.brokers[n].alive(), log)
            self.assertIn("replica fetcher: authentication failed to node 1", log)
            self.assertIn("as broker with SASL mechanism SCRAM-SHA-512", log)
        self.assertIn("failed authentication on listener SASL_PLAINTEXT", self.c.brokers[1].log())


if __name__ == "__main__":
    unittest.main()
