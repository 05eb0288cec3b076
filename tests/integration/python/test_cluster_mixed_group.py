"""A mixed consumer group (KIP-848 online upgrade: a classic member and a
consumer-protocol member) survives its coordinator's SIGKILL: the broker that
takes over the group's __consumer_offsets partition loads it from the log with
both members, their protocols and epochs, and answers the classic member as
before (it is told to rejoin, and does)."""
import unittest

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import admin
import test_cluster_replication  # a module, not its TestCase: only this file's test runs here
from test_mixed_group_raw import CLASSIC, CONSUMER, REBALANCE_IN_PROGRESS, Classic

GROUP, TOPIC = "mixed-failover", "mixed-failover-t"


def describe(port):
    """The group as ConsumerGroupDescribe gives it, or None while unreachable."""
    try:
        return kproto.parse_consumer_group_describe(
            kproto.round_trip(port, kproto.consumer_group_describe(1, [GROUP]), timeout=5))[0]
    except (OSError, ValueError):
        return None


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterMixedGroupTest(unittest.TestCase):
    def setUp(self):
        sets = dict(test_cluster_replication.FAST, **{"offsets.topic.num.partitions": 1, "group.initial.rebalance.delay.ms": 0})
        self.cluster = Cluster(3, sets=sets).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_mixed_group_survives_the_coordinators_sigkill(self):
        c = self.cluster
        test_cluster_replication.ClusterReplicationTest.create(self, TOPIC, 3, 3)
        a = admin(c.bootstrap)
        coordinator = a._find_coordinator_ids([GROUP])[GROUP]
        a.close()
        port = c.brokers[coordinator].port
        k = Classic(port, GROUP, [TOPIC])
        err, _, _, leader, member, _ = k.join_fully()
        self.assertEqual((err, leader), (0, member))
        self.assertEqual(k.sync({member: {TOPIC: [0, 1, 2]}}), (0, {TOPIC: [0, 1, 2]}))
        r = kproto.parse_consumer_group_heartbeat(kproto.round_trip(port, kproto.consumer_group_heartbeat(
            1, GROUP, "m1", 0, rebalance_timeout_ms=30000, topics=[TOPIC], owned={})))
        self.assertEqual(r["error"], 0, r)
        before = describe(port)
        self.assertEqual(sorted((m["member_id"], m["type"]) for m in before["members"]),
                         sorted([(k.member_id, CLASSIC), ("m1", CONSUMER)]))

        c.brokers[coordinator].kill9()
        others = [c.brokers[n].port for n in c.brokers if n != coordinator]

        def loaded():
            for p in others:
                g = describe(p)
                if g and g["error"] == 0:
                    return p, g
            return None
        found = wait_for(loaded, timeout=30)
        self.assertTrue(found, "no broker took the group over")
        port, after = found
        self.assertEqual((after["epoch"], after["assignment_epoch"]), (before["epoch"], before["assignment_epoch"]))
        self.assertEqual(sorted((m["member_id"], m["type"], m["epoch"]) for m in after["members"]),
                         sorted((m["member_id"], m["type"], m["epoch"]) for m in before["members"]))
        k.port = port
        self.assertEqual(k.heartbeat(), REBALANCE_IN_PROGRESS)
        self.assertEqual(k.join()[0], 0)
        self.assertEqual(k.sync()[0], 0)


if __name__ == "__main__":
    unittest.main()
