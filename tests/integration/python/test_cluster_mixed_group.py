"""A mixed consumer group (KIP-848 online upgrade: a classic member and a
consumer-protocol member) survives its coordinator's SIGKILL: the broker that
takes over the group's __consumer_offsets partition loads it from the log with
both members, their protocols and epochs, and answers the classic member as
before (it is told to rejoin, and does). And group.consumer.max.size holds
across the same failover: the new coordinator still turns a third member
away (GROUP_MAX_SIZE_REACHED) while the two members carry on."""
import unittest

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import admin
import test_cluster_replication  # a module, not its TestCase: only this file's test runs here
from test_mixed_group_raw import CLASSIC, CONSUMER, REBALANCE_IN_PROGRESS, Classic

GROUP, TOPIC = "mixed-failover", "mixed-failover-t"
GROUP_MAX_SIZE_REACHED = 81


def describe(port, group=GROUP):
    """The group as ConsumerGroupDescribe gives it, or None while unreachable."""
    try:
        return kproto.parse_consumer_group_describe(
            kproto.round_trip(port, kproto.consumer_group_describe(1, [group]), timeout=5))[0]
    except (OSError, ValueError):
        return None


def wait_until_coordinating(test, port, group):
    """Waits until the broker at `port` answers for `group` as its loaded
    coordinator: right after a cluster starts it may still be taking the
    offsets partition over (kproto.COORDINATOR_ERRORS), which clients retry."""
    def ready():
        g = describe(port, group)
        return g is not None and g["error"] not in kproto.COORDINATOR_ERRORS
    test.assertTrue(wait_for(ready, timeout=30), "the coordinator never finished loading")


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
        wait_until_coordinating(self, port, GROUP)
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


def heartbeat(port, group, member, epoch, topic=None, owned=None):
    kw = dict(rebalance_timeout_ms=30000, topics=[topic], owned={}) if epoch == 0 else dict(owned=owned)
    return kproto.parse_consumer_group_heartbeat(
        kproto.round_trip(port, kproto.consumer_group_heartbeat(1, group, member, epoch, **kw), timeout=5))


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterGroupLimitTest(unittest.TestCase):
    def setUp(self):
        sets = dict(test_cluster_replication.FAST, **{"offsets.topic.num.partitions": 1,
                                                      "group.initial.rebalance.delay.ms": 0,
                                                      "group.consumer.max.size": 2})
        self.cluster = Cluster(3, sets=sets).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_the_limit_holds_on_the_next_coordinator(self):
        c, group, topic = self.cluster, "limited", "limited-t"
        test_cluster_replication.ClusterReplicationTest.create(self, topic, 3, 3)
        a = admin(c.bootstrap)
        coordinator = a._find_coordinator_ids([group])[group]
        a.close()
        port = c.brokers[coordinator].port
        wait_until_coordinating(self, port, group)
        epochs = {}
        for m in ("m1", "m2"):
            r = heartbeat(port, group, m, 0, topic)
            self.assertEqual(r["error"], 0, r)
            epochs[m] = r["epoch"]
        r = heartbeat(port, group, "m3", 0, topic)
        self.assertEqual(r["error"], GROUP_MAX_SIZE_REACHED, r)
        before = describe(port, group)

        c.brokers[coordinator].kill9()
        others = [c.brokers[n].port for n in c.brokers if n != coordinator]

        def loaded():
            for p in others:
                g = describe(p, group)
                if g and g["error"] == 0 and len(g["members"]) == 2:
                    return p
            return None
        port = wait_for(loaded, timeout=30)
        self.assertTrue(port, "no broker took the group over")
        self.assertEqual(describe(port, group)["epoch"], before["epoch"])
        r = heartbeat(port, group, "m3", 0, topic)
        self.assertEqual((r["error"], r["message"]),
                         (GROUP_MAX_SIZE_REACHED, "The consumer group has reached its maximum capacity of 2 members."))
        for m in ("m1", "m2"):
            r = heartbeat(port, group, m, epochs[m])
            self.assertEqual(r["error"], 0, r)


if __name__ == "__main__":
    unittest.main()
