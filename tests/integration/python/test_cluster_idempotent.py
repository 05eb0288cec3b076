"""Idempotent producers in a cluster: producer ids reserved through etcd are
unique across brokers and restarts, and a partition's producer state lives
on its followers too: after the leader is killed -9, the new leader answers
a retried batch with its original offset and checks sequences where the old
one left off."""
import unittest

from kafka.admin import NewTopic

import etcd
from cluster import Cluster, wait_for
from helpers import admin
from test_cluster_replication import FAST, states
from test_idempotent import NONE, OUT_OF_ORDER, idem_batch, init_producer_id, produce


def attempt(fn, *args):
    """fn(*args), or None while the broker is not reachable yet."""
    try:
        return fn(*args)
    except (OSError, ConnectionError, AssertionError):
        return None


def until(want, fn, *args):
    """Retries fn(*args) until it returns `want` (a retried idempotent produce
    is harmless: it is answered as a duplicate); returns the last answer."""
    return wait_for(lambda: attempt(fn, *args) == want) or attempt(fn, *args)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterIdempotentTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets=FAST).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_ids_unique_across_brokers_and_state_survives_failover(self):
        c = self.cluster
        ids = []
        for n, b in c.brokers.items():
            for _ in range(2):
                err, pid, epoch = init_producer_id(b.port)
                self.assertEqual((err, epoch), (NONE, 0))
                ids.append(pid)
        self.assertEqual(len(set(ids)), len(ids), ids)

        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("idem", 1, 3)])
        finally:
            a.close()
        full = wait_for(lambda: (s := states(c.view(1, ["idem"]), "idem")) and 0 in s and len(s[0][3]) == 3 and s)
        self.assertTrue(full, states(c.view(1, ["idem"]), "idem"))
        leader = full[0][1]
        port = c.brokers[leader].port
        pid = ids[0]
        b0 = idem_batch(pid, 0, 0, [b"a", b"b"])
        b1 = idem_batch(pid, 0, 2, [b"c"])
        # Retried until the leader serves the partition.
        self.assertEqual(until((NONE, 0), produce, port, "idem", b0), True)
        self.assertEqual(produce(port, "idem", b1), (NONE, 2))

        c.brokers[leader].kill9()
        others = [n for n in c.brokers if n != leader]
        moved = wait_for(lambda: (s := states(c.view(others[0], ["idem"]), "idem")) and s[0][1] in others and s)
        self.assertTrue(moved, states(c.view(others[0], ["idem"]), "idem"))
        new_port = c.brokers[moved[0][1]].port
        # The retry the client makes after the old leader died: a duplicate.
        self.assertEqual(until((NONE, 2), produce, new_port, "idem", b1), True)
        self.assertEqual(produce(new_port, "idem", b0), (NONE, 0))
        self.assertEqual(produce(new_port, "idem", idem_batch(pid, 0, 5, [b"x"]))[0], OUT_OF_ORDER)
        self.assertEqual(produce(new_port, "idem", idem_batch(pid, 0, 3, [b"d"])), (NONE, 3))

        # The killed broker comes back: ids it hands out are still new.
        c.brokers[leader].restart()
        # Once it has joined the cluster again (until then: a retriable error).
        answer = wait_for(lambda: (r := attempt(init_producer_id, c.brokers[leader].port)) and r[0] == NONE and r)
        self.assertTrue(answer)
        pid_after = answer[1]
        self.assertNotIn(pid_after, ids)
        self.assertGreater(pid_after, max(ids))


if __name__ == "__main__":
    unittest.main()
