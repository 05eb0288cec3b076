"""Transactions in a 3-broker cluster (etcd): markers for partitions led by
other brokers go out as WriteTxnMarkers, and the transaction coordinator's
broker is killed -9 in the middle of a transaction: __transaction_state's new
leader takes over (aborting the open transaction, with markers to the partitions' new
leaders, when the producer re-inits),
the producer carries on after re-init, and read_committed sees the committed
transactions whole and nothing of the interrupted one. The coordinator keeps
one connection per broker for its markers rather than one per transaction."""
import re
import unittest
import urllib.request

from confluent_kafka import Producer
from kafka.admin import NewTopic

import etcd
from broker import free_port
from cluster import Cluster, wait_for
from helpers import admin
from test_cluster_replication import FAST, states
from test_transactions import cli, read_all

SETS = dict(FAST, **{"transaction.state.log.num.partitions": 3, "offsets.topic.num.partitions": 3,
                     "group.initial.rebalance.delay.ms": 0})


def describe_any(cluster, txn_id):
    """`runnel transactions describe` through any live broker, or None."""
    for b in cluster.brokers.values():
        if not b.alive():
            continue
        rc, out, _ = cli(b.bootstrap, "describe", txn_id)
        if rc == 0:
            lines = out.strip().splitlines()
            return dict(zip(lines[0].split(), lines[1].split()))
    return None


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterTransactionsTest(unittest.TestCase):
    def setUp(self):
        self.admin_ports = {n: free_port() for n in (1, 2, 3)}
        self.cluster = Cluster(3, sets=SETS, node_sets=lambda n: {
            "runnel.admin.listen": "127.0.0.1:%d" % self.admin_ports[n]}).start()

    def marker_connections(self, node):
        """Connections one broker's marker senders opened (its /metrics).
        Not the brokers' accepted connections: the controller's liveness
        probes connect to every broker five times a second."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_ports[node], timeout=10) as r:
            text = r.read().decode()
        return int(float(re.search(r'^runnel_inter_broker_connections_created_total\{sender="txn_markers"\} (\S+)$',
                                   text, re.M).group(1)))

    def create_topic(self):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("ctxn", 3, 3, topic_configs={"min.insync.replicas": "2"})])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: len(states(c.view(1, ["ctxn"]), "ctxn")) == 3 and all(
            len(s[3]) == 3 for s in states(c.view(1, ["ctxn"]), "ctxn").values())))

    def tearDown(self):
        self.cluster.cleanup()

    def test_markers_keep_their_connections(self):
        c = self.cluster
        self.create_topic()
        leaders = {p: s[1] for p, s in states(c.view(1, ["ctxn"]), "ctxn").items()}
        p = Producer({"bootstrap.servers": c.bootstrap, "transactional.id": "keep", "linger.ms": 5})
        p.init_transactions(60)

        def one_transaction(n):
            p.begin_transaction()
            for i in range(6):
                p.produce("ctxn", value=b"t%d-%d" % (n, i), partition=i % 3)
            p.commit_transaction(60)

        one_transaction(0)  # every connection the producer and the brokers need is made
        d = wait_for(lambda: (x := describe_any(c, "keep")) and x["STATE"] == "CompleteCommit" and x)
        self.assertTrue(d)
        coordinator = int(d["COORDINATOR"])
        remote = {leader for leader in leaders.values() if leader != coordinator}
        self.assertTrue(remote, "every partition is led by the coordinator: %r" % leaders)
        before = self.marker_connections(coordinator)
        self.assertGreaterEqual(before, len(remote), (leaders, coordinator))  # the first commit's
        for n in range(1, 11):
            one_transaction(n)
        after = self.marker_connections(coordinator)
        p.flush(10)
        # Ten commits, each with markers for every remote leader: a connection
        # per commit would add ten per remote leader.
        self.assertLessEqual(after - before, 1, (before, after, leaders, coordinator))
        got = read_all(c.bootstrap, "ctxn", partitions=3, timeout=30)
        self.assertEqual(len(got), 66)
        self.assertEqual(len(set(got)), 66)

    def test_coordinator_killed_mid_transaction(self):
        c = self.cluster
        self.create_topic()

        def producer():
            return Producer({"bootstrap.servers": c.bootstrap, "transactional.id": "ctx", "linger.ms": 5,
                             "message.timeout.ms": 30000})

        p = producer()
        p.init_transactions(60)
        p.begin_transaction()
        for i in range(30):  # every partition: the markers of two of them are remote for any coordinator
            p.produce("ctxn", value=b"first-%d" % i, partition=i % 3)
        p.commit_transaction(60)
        d = wait_for(lambda: (x := describe_any(c, "ctx")) and x["STATE"] == "CompleteCommit" and x)
        self.assertTrue(d, describe_any(c, "ctx"))
        coordinator = int(d["COORDINATOR"])

        p.begin_transaction()
        for i in range(30):
            p.produce("ctxn", value=b"lost-%d" % i, partition=i % 3)
        p.flush(30)
        c.brokers[coordinator].kill9()
        # The producer's process dies with it (nothing more is sent for this
        # transaction): the new coordinator must abort it.
        p.purge()
        del p

        # A new instance of the producer: the new coordinator finishes or
        # aborts what it finds, then the producer goes on.
        p = producer()
        p.init_transactions(120)
        p.begin_transaction()
        for i in range(30):
            p.produce("ctxn", value=b"second-%d" % i, partition=i % 3)
        p.commit_transaction(60)
        d = wait_for(lambda: (x := describe_any(c, "ctx")) and x["STATE"] == "CompleteCommit" and x)
        self.assertTrue(d)
        self.assertNotEqual(int(d["COORDINATOR"]), coordinator)

        got = read_all(c.bootstrap, "ctxn", partitions=3, timeout=30)
        want = {b"first-%d" % i for i in range(30)} | {b"second-%d" % i for i in range(30)}
        lost = {b"lost-%d" % i for i in range(30)}
        seen = set(got)
        self.assertEqual(len(got), len(seen), "duplicates")
        self.assertTrue(want <= seen, sorted(want - seen)[:5])
        self.assertEqual(seen & lost, set(), "the interrupted transaction is visible")
        self.assertEqual(len(got), 60)
        # Everything was written with the epoch the new coordinator fenced it with, or a later one.
        self.assertGreaterEqual(int(d["PRODUCER-EPOCH"]), 2)


if __name__ == "__main__":
    unittest.main()
