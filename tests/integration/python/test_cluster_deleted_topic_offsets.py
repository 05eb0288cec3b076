"""A topic deleted while the coordinator of a group that committed offsets for
it is down: when that broker comes back and leads the group's
__consumer_offsets partition again, it replays the commits from its log,
which has no tombstones (nobody led the partition to write them), and must
still forget them, as Kafka's coordinator forgets a deleted topic's offsets.
Otherwise a topic created again under the name would be read from them.
__consumer_offsets has one partition and one replica here, so the partition
waits for its only broker and the case is the same on every run."""
import signal
import unittest

from kafka.admin import NewTopic
from kafka.errors import KafkaError

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import admin
from test_cluster_replication import FAST

GROUP = "orphaned-offsets"


def commit(port, topic, offset):
    """The error code of a simple (generation -1) commit, or None while unreachable."""
    try:
        conn = kproto.Conn(port)
        try:
            conn.send(kproto.offset_commit_v2(1, GROUP, topic, 0, offset))
            return kproto.parse_offset_commit_v2(conn.recv_frame())
        finally:
            conn.close()
    except (OSError, ValueError):
        return None


def committed(port, topic):
    """(offset, error code) of the group's commit for topic-0, or None while unreachable."""
    try:
        conn = kproto.Conn(port)
        try:
            conn.send(kproto.offset_fetch_v1(2, GROUP, topic, 0))
            return kproto.parse_offset_fetch_v1(conn.recv_frame())
        finally:
            conn.close()
    except (OSError, ValueError):
        return None


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class DeletedTopicOffsetsTest(unittest.TestCase):
    def setUp(self):
        # One __consumer_offsets partition (three replicas): the group's coordinator is its leader.
        # Leadership goes back to the preferred replica a second after it has caught up.
        self.cluster = Cluster(3, sets=dict(FAST, **{"offsets.topic.num.partitions": 1,
                                                     "leader.imbalance.check.interval.seconds": 1})).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_topic_deleted_before_a_new_coordinator_takes_over(self):
        """The coordinator stops; the topic is deleted before its lease runs
        out, so the broker that takes over the group has already seen the
        deletion (with no group loaded) when it loads the group's commits.
        (When the stopped broker is also the controller, the deletion waits for
        a new one and the order is left to chance.)"""
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("doomed", 1, 3)])
        finally:
            a.close()
        # The coordinator is whichever broker accepts the commit (the others
        # answer NOT_COORDINATOR, or COORDINATOR_NOT_AVAILABLE at first).
        coordinator = wait_for(lambda: next((n for n, b in c.brokers.items() if commit(b.port, "doomed", 5) == 0),
                                            None))
        self.assertTrue(coordinator)
        # Replicated to the other two before the coordinator dies.
        others = [n for n in c.brokers if n != coordinator]
        self.assertTrue(wait_for(lambda: all((v := c.view(n, ["__consumer_offsets"])) and
                                             len(v[2]["__consumer_offsets"][1][0][3]) == 3 for n in others)))

        # Paused, so that nothing notices it is gone before its lease runs out;
        # killed once the deletion is done, and the group moves on at once.
        c.brokers[coordinator].signal(signal.SIGSTOP)

        def delete():
            # kafka-python sends DeleteTopics to the controller it knows, which may be the dead broker.
            try:
                a = admin(c.brokers[others[0]].bootstrap)
                try:
                    a.delete_topics(["doomed"], timeout_ms=20000)
                    return True
                finally:
                    a.close()
            except KafkaError:
                return False
        self.assertTrue(wait_for(delete))
        # (Metadata for all topics: asking for this one by name would create it again.)
        self.assertTrue(wait_for(lambda: (v := c.view(others[0])) and "doomed" not in v[2]), c.view(others[0]))
        c.brokers[coordinator].kill9()

        def answer():
            for n in others:
                r = committed(c.brokers[n].port, "doomed")
                if r and r[1] not in kproto.COORDINATOR_ERRORS:
                    return r
            return None
        self.assertTrue(wait_for(answer))
        self.assertEqual(answer(), (-1, 0))
        # And once the old coordinator is back and leads the partition again
        # (the preferred replica: it coordinated the group first).
        c.brokers[coordinator].restart()
        port = c.brokers[coordinator].port
        self.assertEqual(wait_for(lambda: committed(port, "doomed") == (-1, 0)) or committed(port, "doomed"), True)


if __name__ == "__main__":
    unittest.main()
