"""Leadership when a broker dies and returns, with replication factor 1 (all
runnel can do until replication lands): the controller takes the dead
broker's partitions offline once its lease expires (Metadata:
LEADER_NOT_AVAILABLE, leader -1), leaves the others alone, and gives them
back to it, in a new leader epoch, when it registers again, with every
acknowledged record still there. The same when the controller itself dies."""
import unittest

from kafka import TopicPartition
from kafka.admin import NewTopic

import etcd
from cluster import Cluster, epochs, wait_for
from helpers import admin, consumer, producer

LEADER_NOT_AVAILABLE = 5


def partitions(view, topic):
    """{partition: (error, leader)} of one topic in a Metadata view."""
    if not view or topic not in view[2]:
        return {}
    return {p: (v[0], v[1]) for p, v in view[2][topic][1].items()}


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterFailoverTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets={"broker.session.timeout.ms": 2000}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def check_round_trip(self, victim):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("ledger", 6, 1)])
        finally:
            a.close()
        placed = wait_for(lambda: len(partitions(c.view(1, ["ledger"]), "ledger")) == 6 and
                          partitions(c.view(1, ["ledger"]), "ledger"))
        self.assertTrue(placed)
        prod = producer(c.bootstrap, acks="all")
        acked = [prod.send("ledger", value=b"r%d" % i, partition=i % 6).get(timeout=20) for i in range(30)]
        prod.close()
        if victim is None:
            victim = c.view(1)[1]  # the controller
        others = [n for n in c.brokers if n != victim]
        before = epochs(c.brokers[others[0]].bootstrap, "ledger")

        c.brokers[victim].kill9()
        def offline_as_expected():
            now = partitions(c.view(others[0], ["ledger"]), "ledger")
            return len(now) == 6 and all(
                now[p] == ((LEADER_NOT_AVAILABLE, -1) if leader == victim else (0, leader))
                for p, (_, leader) in placed.items())
        self.assertTrue(wait_for(offline_as_expected), partitions(c.view(others[0], ["ledger"]), "ledger"))

        c.brokers[victim].restart()
        self.assertTrue(wait_for(lambda: partitions(c.view(others[1], ["ledger"]), "ledger") == placed),
                        partitions(c.view(others[1], ["ledger"]), "ledger"))
        after = epochs(c.brokers[others[1]].bootstrap, "ledger")
        for p, (_, leader) in placed.items():
            # Offline and back: two leader changes for the victim's partitions, none for the rest.
            self.assertEqual(after[p], before[p] + (2 if leader == victim else 0), (p, before, after))

        cons = consumer(c.bootstrap)
        cons.assign([TopicPartition("ledger", p) for p in range(6)])
        cons.seek_to_beginning()
        got = set()
        for _ in range(100):
            for records in cons.poll(timeout_ms=200).values():
                got.update((r.partition, r.offset) for r in records)
            if len(got) >= 30:
                break
        cons.close()
        self.assertEqual(got, {(m.partition, m.offset) for m in acked})

    def test_a_dead_broker_takes_its_partitions_offline_and_back(self):
        self.check_round_trip(victim=2)

    def test_the_controller_dies_and_another_broker_takes_over(self):
        self.check_round_trip(victim=None)


if __name__ == "__main__":
    unittest.main()
