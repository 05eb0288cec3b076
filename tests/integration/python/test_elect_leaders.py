"""ElectLeaders (43, KIP-460), v0-2, over raw sockets (kafka-leader-election.sh
is a JVM tool; no client on the machine sends it): on three brokers, a
preferred election gives a partition back to its first replica once that is
back in the ISR (and then is not needed), fails while it is down; asked for
every partition, only the partitions not already led as asked are listed;
an unclean election lets the live replica that is out of the ISR lead an
offline partition, and finds none when no replica is live; a topic's
unclean.leader.election.enable, or the dynamic cluster default, set while a
partition is offline lets the controller elect that replica by itself. Unknown topics
and partitions with Kafka's messages; a single node leads everything itself;
ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED."""
import json
import subprocess
import time
import unittest

import etcd
import kproto
from broker import wait_port
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, create_topic
from test_acls import USERS, admin_properties, runnel, secured_broker
from test_broker_configs import incremental_alter
from test_cluster_replication import FAST, create_replicated, states

PREFERRED, UNCLEAN = 0, 1
NONE, UNKNOWN_TOPIC_OR_PARTITION, CLUSTER_AUTHORIZATION_FAILED = 0, 3, 31
PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE, ELECTION_NOT_NEEDED = 80, 83, 84


def request(version, election_type, topics=None, correlation_id=9):
    """topics: None for every partition, else {topic: [partitions]}."""
    flexible = version >= 2
    header = (kproto.header_v2 if flexible else kproto.header_v1)(43, version, correlation_id)
    body = (kproto.i8(election_type) if version >= 1 else b"") + kproto.topic_partitions(topics, flexible)
    return kproto.frame(header + body + kproto.i32(30000) + (kproto.NO_TAGS if flexible else b""))


def parse(payload, version):
    """-> (top-level error or None, {topic: {partition: (error, message)}})."""
    r = kproto.VersionedReader(payload, version >= 2)
    assert r.correlation_id == 9
    r.i32()  # throttle
    top = r.i16() if version >= 1 else None

    def partition():
        p, err, msg = r.i32(), r.i16(), r.string()
        r.tags()
        return p, (err, msg)

    def topic():
        name, parts = r.string(), dict(r.array(partition))
        r.tags()
        return name, parts

    return top, dict(r.array(topic))


def elect(port, election_type, topics=None, version=2):
    return parse(kproto.round_trip(port, request(version, election_type, topics), timeout=40), version)


class SingleNodeElectLeadersTest(BrokerTestCase):
    def test_one_broker_leads_everything_itself(self):
        create_topic(self.bootstrap, "el-single", 2)
        for version in range(3):
            for election in ([PREFERRED, UNCLEAN] if version >= 1 else [PREFERRED]):
                top, topics = elect(self.broker.port, election, {"el-single": [0, 1, 5], "el-none": [0]}, version)
                self.assertEqual(top, 0 if version >= 1 else None)
                self.assertEqual(topics["el-single"][0], (ELECTION_NOT_NEEDED,
                                                          "Leader election not needed for topic partition."))
                self.assertEqual(topics["el-single"][5], (UNKNOWN_TOPIC_OR_PARTITION,
                                                          "No such partition as el-single-5"))
                self.assertEqual(topics["el-none"][0], (UNKNOWN_TOPIC_OR_PARTITION, "No such topic as el-none"))
        # Asked for all: the topics are listed, with nothing to report.
        _, topics = elect(self.broker.port, PREFERRED)
        self.assertEqual(topics["el-single"], {})
        r = subprocess.run([self.broker.binary, "cluster", "elect-leaders", "el-single:1", "el-single:7", "--unclean",
                            "--format", "json", "--bootstrap", self.bootstrap], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)  # partition 7 does not exist
        self.assertEqual([(e["partition"], e["error"]) for e in json.loads(r.stdout)],
                         [(1, "ELECTION_NOT_NEEDED"), (7, "UNKNOWN_TOPIC_OR_PARTITION")])
        self.assertBrokerAlive()


class ElectLeadersAclTest(unittest.TestCase):
    def test_needs_alter_on_the_cluster(self):
        b = secured_broker()
        b.start()
        try:
            port = int(b.sasl.split(":")[1])
            self.assertTrue(wait_port(port, 10.0))

            def as_alice(topics):
                c = kproto.plain_login(port, "alice", USERS["alice"])
                try:
                    c.send(request(2, PREFERRED, topics))
                    return parse(c.recv_frame(), 2)
                finally:
                    c.close()

            self.assertEqual(as_alice({"t": [0, 1]}), (CLUSTER_AUTHORIZATION_FAILED, {
                "t": {0: (CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed."),
                      1: (CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")}}))
            self.assertEqual(as_alice(None), (CLUSTER_AUTHORIZATION_FAILED, {}))
            r = runnel("acl", "add", "--bootstrap-server", b.sasl, "--command-config", admin_properties(b.tmp),
                       "--allow-principal", "User:alice", "--operation", "Alter", "--cluster")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(as_alice({"t": [0]}), (0, {"t": {0: (UNKNOWN_TOPIC_OR_PARTITION, "No such topic as t")}}))
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterElectLeadersTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets=FAST).start()

    def tearDown(self):
        self.cluster.cleanup()

    def state(self, topic, via):
        return states(self.cluster.view(via, [topic]), topic)[0]

    def test_preferred_election(self):
        c = self.cluster
        placed = create_replicated(self, c, "el-pref", 1, 3)
        _, leader, replicas, _ = placed[0]
        preferred = replicas[0]
        self.assertEqual(leader, preferred)
        other = next(n for n in c.brokers if n != preferred)
        self.assertEqual(elect(c.brokers[other].port, PREFERRED, {"el-pref": [0]})[1]["el-pref"][0][0],
                         ELECTION_NOT_NEEDED)
        # The preferred leader goes away: another leads; asking for it fails.
        c.brokers[preferred].kill9()
        self.assertTrue(wait_for(lambda: self.state("el-pref", other)[1] not in (preferred, -1), timeout=15))
        self.assertEqual(elect(c.brokers[other].port, PREFERRED, {"el-pref": [0]})[1]["el-pref"][0],
                         (PREFERRED_LEADER_NOT_AVAILABLE, "The preferred leader was not available."))
        # Back in the ISR (the automatic rebalance is minutes away): asked
        # for, it leads again; then the election is not needed.
        c.brokers[preferred].restart()
        self.assertTrue(wait_for(lambda: preferred in self.state("el-pref", other)[3], timeout=20))
        self.assertNotEqual(self.state("el-pref", other)[1], preferred)
        # Asked for every partition: this one is listed, with its result.
        top, topics = elect(c.brokers[other].port, PREFERRED, None, version=1)
        self.assertEqual((top, topics["el-pref"]), (NONE, {0: (NONE, None)}))
        self.assertTrue(wait_for(lambda: self.state("el-pref", other)[1] == preferred, timeout=10))
        self.assertEqual(elect(c.brokers[other].port, PREFERRED, None)[1]["el-pref"], {})
        # `runnel cluster elect-leaders`, the command-line kafka-leader-election.sh.
        r = subprocess.run([c.brokers[other].binary, "cluster", "elect-leaders", "el-pref", "--bootstrap",
                            c.brokers[other].bootstrap], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1].split(), ["el-pref", "0", "already", "elected"])
        for b in c.brokers.values():
            self.assertTrue(b.alive(), b.log())

    def test_unclean_election(self):
        c = self.cluster
        placed = create_replicated(self, c, "el-unclean", 1, 2)
        _, leader, replicas, _ = placed[0]
        follower = next(n for n in replicas if n != leader)
        third = next(n for n in c.brokers if n not in replicas)
        # The follower leaves the ISR, then the leader dies: offline.
        c.brokers[follower].kill9()
        self.assertTrue(wait_for(lambda: self.state("el-unclean", third)[3] == [leader], timeout=15))
        self.assertEqual(elect(c.brokers[third].port, UNCLEAN, {"el-unclean": [0]})[1]["el-unclean"][0][0],
                         ELECTION_NOT_NEEDED)
        c.brokers[leader].kill9()
        self.assertTrue(wait_for(lambda: self.state("el-unclean", third)[1] == -1, timeout=15))
        self.assertEqual(elect(c.brokers[third].port, UNCLEAN, {"el-unclean": [0]})[1]["el-unclean"][0],
                         (ELIGIBLE_LEADERS_NOT_AVAILABLE, "Eligible topic partition leaders are not available."))
        # The follower is back but out of the ISR: it stays offline
        # (unclean.leader.election.enable is false) until asked.
        c.brokers[follower].restart()
        self.assertTrue(wait_for(lambda: follower in (c.view(third) or [[]])[0], timeout=15))
        self.assertEqual(self.state("el-unclean", third)[1], -1)
        self.assertEqual(elect(c.brokers[third].port, UNCLEAN, {"el-unclean": [0]})[1]["el-unclean"][0], (NONE, None))
        self.assertTrue(wait_for(lambda: self.state("el-unclean", third)[1] == follower, timeout=10))
        self.assertEqual(self.state("el-unclean", third)[3], [follower])

    def check_unclean_enabled_at_run_time(self, topic, enable):
        """`enable(port)` turns unclean.leader.election.enable on; an offline
        partition whose only live replica is out of the ISR then gets it as
        leader, without an ElectLeaders request (the controller's own pass)."""
        c = self.cluster
        placed = create_replicated(self, c, topic, 1, 2)
        _, leader, replicas, _ = placed[0]
        follower = next(n for n in replicas if n != leader)
        third = next(n for n in c.brokers if n not in replicas)
        c.brokers[follower].kill9()
        self.assertTrue(wait_for(lambda: self.state(topic, third)[3] == [leader], timeout=15))
        c.brokers[leader].kill9()
        self.assertTrue(wait_for(lambda: self.state(topic, third)[1] == -1, timeout=15))
        c.brokers[follower].restart()
        self.assertTrue(wait_for(lambda: follower in (c.view(third) or [[]])[0], timeout=15))
        time.sleep(1)
        self.assertEqual(self.state(topic, third)[1], -1)  # off by default: it stays offline
        enable(c.brokers[third].port)
        self.assertTrue(wait_for(lambda: self.state(topic, third)[1] == follower, timeout=15), self.state(topic, third))
        self.assertEqual(self.state(topic, third)[3], [follower])

    def test_a_topics_unclean_leader_election_setting_applies(self):
        self.check_unclean_enabled_at_run_time("el-unclean-topic", lambda port: self.assertEqual(
            incremental_alter(port, 2, "el-unclean-topic", [("unclean.leader.election.enable", 0, "true")]),
            (0, None)))

    def test_the_dynamic_cluster_default_applies(self):
        self.check_unclean_enabled_at_run_time("el-unclean-default", lambda port: self.assertEqual(
            incremental_alter(port, 4, "", [("unclean.leader.election.enable", 0, "true")]), (0, None)))


if __name__ == "__main__":
    unittest.main()
