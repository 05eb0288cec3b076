"""Cluster membership through etcd: three brokers and a real etcd on free
loopback ports. Every broker registers under a lease and follows the others
through a watch, so Metadata from any of them lists the same live brokers and
the same controller; a broker killed with -9 drops out when its lease expires
and the controller role moves; a clean shutdown leaves at once; a restart of
etcd loses no registration (each broker takes its lease back); a data dir
keeps its node id and cluster id (meta.properties) and refuses another."""
import os
import signal
import socket
import subprocess
import time
import unittest

import etcd
import kproto
from broker import Broker
from cluster import wait_for

TTL_MS = 2000  # broker.session.timeout.ms: the lease, kept short so the test is quick


def cluster_view(broker):
    try:
        brokers, controller, _ = kproto.metadata(broker.port)
        return sorted(brokers), controller
    except (OSError, ValueError):
        return None


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterMembershipTest(unittest.TestCase):
    def setUp(self):
        self.etcd = etcd.Etcd().start()
        self.brokers = {}

    def tearDown(self):
        for b in self.brokers.values():
            b.cleanup()
        self.etcd.cleanup()

    def start_broker(self, node_id, ttl_ms=TTL_MS, data_from=None):
        b = Broker(args=["--node-id", str(node_id), "--etcd", self.etcd.url],
                   sets={"broker.session.timeout.ms": ttl_ms, "broker.rack": "rack-%d" % (node_id % 2)})
        self.brokers[node_id] = b
        return b.start()

    def restart_etcd_once_every_lease_is_lost(self):
        """Starts the stopped etcd again once every broker has declared its lease
        lost. Each renews on its own clock, so they do so up to a renewal apart;
        one whose whole TTL has not passed when etcd returns simply renews, is
        never fenced, and never logs "serving again"."""
        self.assertTrue(wait_for(lambda: all("lease of node %d in etcd was lost" % n in b.log()
                                             for n, b in self.brokers.items())))
        self.etcd.start()

    def agree(self, expected_ids):
        """Every running broker lists exactly expected_ids and names the same live controller."""
        views = [cluster_view(b) for b in self.brokers.values() if b.alive()]
        if not views or any(v is None for v in views):
            return False
        ids = {tuple(v[0]) for v in views}
        controllers = {v[1] for v in views}
        return ids == {tuple(sorted(expected_ids))} and len(controllers) == 1 and controllers <= set(expected_ids)

    def test_brokers_register_and_agree_on_one_controller(self):
        for n in (1, 2, 3):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})), [cluster_view(b) for b in self.brokers.values()])
        brokers, controller, _ = kproto.metadata(self.brokers[2].port)
        self.assertEqual(brokers[3], ("127.0.0.1", self.brokers[3].port, "rack-1"))
        self.assertEqual(brokers[2][2], "rack-0")
        # `runnel cluster status` from any broker tells the same.
        out = subprocess.run([os.environ["RUNNEL_BIN"], "cluster", "status", "--bootstrap", self.brokers[1].bootstrap],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("CONTROLLER %d" % controller, out.stdout)
        for n in (1, 2, 3):
            self.assertRegex(out.stdout, r"\n%d\s+127\.0\.0\.1\s+%d\s+rack-%d" % (n, self.brokers[n].port, n % 2))

    def test_killed_controller_drops_out_and_the_role_moves(self):
        for n in (1, 2, 3):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        _, controller = cluster_view(self.brokers[1])
        self.brokers[controller].kill9()
        rest = {1, 2, 3} - {controller}
        self.assertTrue(wait_for(lambda: self.agree(rest)), [cluster_view(b) for b in self.brokers.values()])
        _, successor = cluster_view(self.brokers[min(rest)])
        self.assertIn(successor, rest)
        # Back on the same data dir: it registers again (its old lease is gone) and
        # the controller stays where it moved.
        self.brokers[controller].restart()
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        self.assertEqual(cluster_view(self.brokers[controller])[1], successor)

    def test_clean_shutdown_leaves_at_once(self):
        # A lease far longer than the wait below: only a revoked lease explains
        # the broker leaving within it.
        for n in (1, 2):
            self.start_broker(n, ttl_ms=120000)
        self.assertTrue(wait_for(lambda: self.agree({1, 2})))
        _, controller = cluster_view(self.brokers[1])
        self.assertEqual(self.brokers[controller].stop(), 0)
        other = ({1, 2} - {controller}).pop()
        self.assertTrue(wait_for(lambda: self.agree({other}), timeout=20),
                        cluster_view(self.brokers[other]))

    def test_paused_broker_loses_its_lease_and_registers_again(self):
        for n in (1, 2):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2})))
        _, controller = cluster_view(self.brokers[1])
        other = ({1, 2} - {controller}).pop()
        self.brokers[controller].signal(signal.SIGSTOP)
        try:
            # Past its lease: the other broker sees it gone and takes the role.
            self.assertTrue(wait_for(lambda: cluster_view(self.brokers[other]) == ([other], other)),
                            cluster_view(self.brokers[other]))
        finally:
            self.brokers[controller].signal(signal.SIGCONT)
        # Resumed, it notices its lease is gone and registers again, as a follower of the new controller.
        self.assertTrue(wait_for(lambda: self.agree({1, 2})))
        self.assertEqual(cluster_view(self.brokers[controller])[1], other)
        self.assertIn("lease", self.brokers[controller].log())

    def test_an_etcd_restart_keeps_every_registration_and_the_controller(self):
        # etcd down past the lease: every broker declares its lease lost and serves
        # nothing. etcd keeps leases across its restart, so each broker takes its
        # own back: nobody leaves the cluster, the controller stays, and no
        # partition changes hands.
        for n in (1, 2, 3):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        _, controller = cluster_view(self.brokers[1])
        self.etcd.stop()
        self.restart_etcd_once_every_lease_is_lost()
        self.assertTrue(wait_for(lambda: all("serving again" in b.log() for b in self.brokers.values())))
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        self.assertEqual(cluster_view(self.brokers[1])[1], controller)
        for n, b in self.brokers.items():
            log = b.log()
            self.assertIn("etcd still holds lease", log, n)
            self.assertNotIn("left the cluster", log, n)

    def test_a_fenced_coordinator_is_still_named_by_find_coordinator(self):
        # With etcd out of reach every broker is fenced: the coordinator of a group
        # refuses to act as such (NOT_COORDINATOR), yet FindCoordinator, from any
        # broker, names it as Kafka does from its metadata. Answering
        # COORDINATOR_NOT_AVAILABLE made librdkafka's coordinator requests
        # (send_offsets_to_transaction) give up looking and wait forever.
        for n in (1, 2, 3):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        group = "fenced-coordinator"
        self.assertTrue(wait_for(lambda: kproto.find_coordinator(self.brokers[1].port, group)[0] == 0))
        coordinator = kproto.find_coordinator(self.brokers[1].port, group)[1]
        self.assertIn(coordinator, (1, 2, 3))
        self.etcd.stop()
        self.assertTrue(wait_for(lambda: "lease of node %d in etcd was lost" % coordinator in
                                 self.brokers[coordinator].log()))
        c = kproto.Conn(self.brokers[coordinator].port)
        try:
            c.send(kproto.offset_fetch_v1(1, group, "t", 0))
            self.assertEqual(kproto.parse_offset_fetch_v1(c.recv_frame())[1], 16)  # NOT_COORDINATOR
        finally:
            c.close()
        for n, b in self.brokers.items():
            self.assertEqual(kproto.find_coordinator(b.port, group), (0, coordinator), n)
        self.restart_etcd_once_every_lease_is_lost()
        self.assertTrue(wait_for(lambda: all("serving again" in b.log() for b in self.brokers.values())))
        self.assertEqual(kproto.find_coordinator(self.brokers[coordinator].port, group), (0, coordinator))

    def test_a_fenced_transaction_coordinator_answers_nothing_from_memory(self):
        # Chaos seed 85767352: a fenced coordinator (cut off from etcd and the other
        # brokers) answered a new transaction's EndTxn(commit) from memory as a retry
        # of the previous, committed transaction, while the new coordinator had its
        # partitions and later aborted it: a commit acknowledged and lost. Fenced, it
        # answers every transaction request NOT_COORDINATOR, as the group coordinator does.
        from helpers import create_topic
        from test_txn_verification import add_partitions, end_txn, find_coordinator, init_producer_id
        for n in (1, 2, 3):
            self.start_broker(n)
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        txn_id = "fenced-txn-coordinator"
        create_topic(self.brokers[1].bootstrap, "fenced-txn", 1)
        _, coordinator, _ = find_coordinator(self.brokers[1].port, txn_id)
        port = self.brokers[coordinator].port
        err, pid, epoch = init_producer_id(port, txn_id)
        self.assertEqual(err, 0)
        self.assertTrue(wait_for(lambda: add_partitions(port, txn_id, pid, epoch, "fenced-txn", [0]) == {0: 0}))
        self.assertEqual(end_txn(port, txn_id, pid, epoch, True), 0)
        # Once the commit is complete, a retried EndTxn(commit) is answered NONE from memory.
        self.assertTrue(wait_for(lambda: end_txn(port, txn_id, pid, epoch, True) == 0))
        self.etcd.stop()
        self.assertTrue(wait_for(lambda: "lease of node %d in etcd was lost" % coordinator in
                                 self.brokers[coordinator].log()))
        self.assertEqual(end_txn(port, txn_id, pid, epoch, True), 16)  # NOT_COORDINATOR
        self.assertEqual(add_partitions(port, txn_id, pid, epoch, "fenced-txn", [0]), {0: 16})
        self.restart_etcd_once_every_lease_is_lost()
        self.assertTrue(wait_for(lambda: all("serving again" in b.log() for b in self.brokers.values())))
        self.assertTrue(wait_for(lambda: end_txn(self.brokers[find_coordinator(self.brokers[1].port, txn_id)[1]].port,
                                                 txn_id, pid, epoch, True) == 0))

    def test_a_join_completed_by_a_fenced_group_coordinator_gets_not_coordinator(self):
        # A JoinGroup waits (here the first member's initial rebalance delay); a
        # coordinator fenced meanwhile (cut off from etcd, its partition not yet
        # unloaded) must not hand out a generation from memory.
        for n in (1, 2, 3):
            self.brokers[n] = Broker(args=["--node-id", str(n), "--etcd", self.etcd.url],
                                     sets={"broker.session.timeout.ms": TTL_MS,
                                           "group.initial.rebalance.delay.ms": 8000})
            self.brokers[n].start()
        self.assertTrue(wait_for(lambda: self.agree({1, 2, 3})))
        group = "fenced-join"
        # FindCoordinator v1 with key type 0 (a group); retried until the offsets topic is up.
        coordinator = None
        for _ in range(100):
            r = kproto.Conn(self.brokers[1].port)
            try:
                r.send(kproto.frame(kproto.header_v1(10, 1, 5) + kproto.string(group) + kproto.i8(0)))
                rd = kproto.Reader(r.recv_frame())
            finally:
                r.s.close()
            rd.i32()  # correlation id
            rd.i32()  # throttle time
            err = rd.i16()
            rd.string()
            node = rd.i32()
            if err == 0:
                coordinator = node
                break
            time.sleep(0.1)
        self.assertIsNotNone(coordinator)
        # Joined once the coordinator has loaded its partition (14 before that):
        # an answer within 2 s is an error to retry; none means the join waits.
        for attempt in range(50):
            conn = kproto.Conn(self.brokers[coordinator].port, timeout=2)
            conn.send(kproto.join_group_v1(attempt, group))
            try:
                early = kproto.parse_join_group_v1(conn.recv_frame())
            except socket.timeout:
                break
            conn.s.close()
            self.assertEqual(early[0], 14, early)
            time.sleep(0.2)
        conn.s.settimeout(60)
        self.etcd.stop()
        self.assertTrue(wait_for(lambda: "lease of node %d in etcd was lost" % coordinator in
                                 self.brokers[coordinator].log()))
        answer = kproto.parse_join_group_v1(conn.recv_frame())
        conn.s.close()
        self.assertEqual(answer[0], 16, "JoinGroup answered %r, not NOT_COORDINATOR" % (answer,))
        self.restart_etcd_once_every_lease_is_lost()
        self.assertTrue(wait_for(lambda: all("serving again" in b.log() for b in self.brokers.values())))

    def test_data_dir_keeps_its_node_id_and_cluster(self):
        b = self.start_broker(1)
        self.assertTrue(wait_for(lambda: self.agree({1})))
        self.assertEqual(b.stop(), 0)
        with open(os.path.join(b.data_dir, "meta.properties")) as f:
            meta = f.read()
        self.assertIn("node.id=1\n", meta)
        self.assertIn("version=1\n", meta)
        # The same data dir under another node id is refused with the reason.
        b.args = ["--node-id", "7", "--etcd", self.etcd.url]
        with self.assertRaises(RuntimeError):
            b.start()
        self.assertIn("belongs to node 1", b.log())
        # Against another cluster (created in a second etcd by a broker with an
        # empty data dir): refused too. (The first broker of a new etcd would
        # instead create the cluster under its data dir's id.)
        other = etcd.Etcd().start()
        try:
            stranger = Broker(args=["--node-id", "2", "--etcd", other.url])
            self.brokers[2] = stranger
            stranger.start()
            b.args = ["--node-id", "1", "--etcd", other.url]
            with self.assertRaises(RuntimeError):
                b.start()
            self.assertIn("belongs to cluster", b.log())
        finally:
            other.cleanup()

    def test_single_node_data_dir_records_node_zero(self):
        with Broker() as single:
            self.assertTrue(wait_for(lambda: cluster_view(single) is not None))
            brokers, controller, _ = kproto.metadata(single.port)
            self.assertEqual((sorted(brokers), controller), ([0], 0))
            with open(os.path.join(single.data_dir, "meta.properties")) as f:
                self.assertIn("node.id=0\n", f.read())


if __name__ == "__main__":
    unittest.main()
