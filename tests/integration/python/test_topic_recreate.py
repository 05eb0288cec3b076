"""A topic deleted and created again under the same name starts empty, even
when a directory of the deleted one is still on disk: left by a crash
between the catalogue's change and the directory's removal, or by a power
cut that undid the removal. The tests put such a directory back by hand
(a copy taken before the deletion) while the broker is stopped: on a single
node, and on a cluster broker that adopts the new topic from etcd."""
import os
import shutil
import tempfile
import time
import unittest

from kafka.admin import NewPartitions, NewTopic

import etcd
from broker import Broker
from cluster import Cluster, wait_for
from helpers import admin, create_topic, producer, read_partition

TOPIC = "again"


class RecreatedTopicTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        self.saved = tempfile.mkdtemp(prefix="runnel-stale-")

    def tearDown(self):
        self.broker.cleanup()
        shutil.rmtree(self.saved, ignore_errors=True)

    def _produce(self, partition, values):
        p = producer(self.broker.bootstrap, acks="all")
        for v in values:
            p.send(TOPIC, value=v, partition=partition)
        p.flush(10)
        p.close()

    def _delete_leaving_directories(self, partitions):
        """Deletes the topic; its partition directories are back afterwards."""
        self.broker.stop()
        for p in range(partitions):
            shutil.copytree(os.path.join(self.broker.data_dir, f"{TOPIC}-{p}"), os.path.join(self.saved, str(p)))
        self.broker.restart()
        a = admin(self.broker.bootstrap)
        a.delete_topics([TOPIC])
        a.close()
        deadline = time.time() + 10
        while os.path.exists(os.path.join(self.broker.data_dir, f"{TOPIC}-0")) and time.time() < deadline:
            time.sleep(0.05)
        self.broker.stop()
        for p in range(partitions):
            path = os.path.join(self.broker.data_dir, f"{TOPIC}-{p}")
            self.assertFalse(os.path.exists(path), "DeleteTopics removed the directory")
            shutil.copytree(os.path.join(self.saved, str(p)), path)
        self.broker.restart()

    def test_created_again_it_shows_none_of_the_old_records(self):
        create_topic(self.broker.bootstrap, TOPIC, 2)
        self._produce(0, [b"old-%d" % i for i in range(5)])
        self._produce(1, [b"old-%d" % i for i in range(3)])
        self._delete_leaving_directories(2)
        # One partition first, the second added later (CreatePartitions).
        create_topic(self.broker.bootstrap, TOPIC, 1)
        self.assertEqual(read_partition(self.broker.bootstrap, TOPIC, 0, timeout=3), [])
        a = admin(self.broker.bootstrap)
        a.create_partitions({TOPIC: NewPartitions(total_count=2)})
        a.close()
        self.assertEqual(read_partition(self.broker.bootstrap, TOPIC, 1, timeout=3), [])
        self._produce(0, [b"new"])
        self.assertEqual([r.value for r in read_partition(self.broker.bootstrap, TOPIC, 0)], [b"new"])
        self.assertIn("left by a deleted topic of the same name", self.broker.log())



@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class RecreatedClusterTopicTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets={"broker.session.timeout.ms": 3000}).start()
        self.saved = tempfile.mkdtemp(prefix="runnel-stale-")

    def tearDown(self):
        self.cluster.cleanup()
        shutil.rmtree(self.saved, ignore_errors=True)

    def _create_on_broker_3(self):
        a = admin(self.cluster.brokers[1].bootstrap)
        a.create_topics([NewTopic(TOPIC, -1, -1, replica_assignments={0: [3]})])
        a.close()

        def led_by_3():
            view = self.cluster.view(3, [TOPIC])
            return view and TOPIC in view[2] and view[2][TOPIC][0] == 0 and view[2][TOPIC][1][0][1] == 3
        self.assertTrue(wait_for(led_by_3))

    def _restart_3(self, between):
        b = self.cluster.brokers[3]
        b.stop()
        between(b)
        b.restart()
        self.assertTrue(wait_for(lambda: all(self.cluster.view(n) and 3 in self.cluster.view(n)[0]
                                             for n in self.cluster.brokers)))

    def test_a_broker_adopting_it_from_the_cluster_clears_what_the_old_one_left(self):
        self._create_on_broker_3()
        p = producer(self.cluster.bootstrap, acks="all")
        for i in range(5):
            p.send(TOPIC, value=b"old-%d" % i, partition=0)
        p.flush(10)
        p.close()
        path = os.path.join(self.cluster.brokers[3].data_dir, f"{TOPIC}-0")
        self._restart_3(lambda b: shutil.copytree(path, os.path.join(self.saved, "0")))
        a = admin(self.cluster.brokers[1].bootstrap)
        a.delete_topics([TOPIC])
        a.close()
        self.assertTrue(wait_for(lambda: not os.path.exists(path)))
        self._restart_3(lambda b: shutil.copytree(os.path.join(self.saved, "0"), path))
        self._create_on_broker_3()
        self.assertEqual(read_partition(self.cluster.bootstrap, TOPIC, 0, timeout=5), [])
        self.assertIn("left by a deleted topic of the same name", self.cluster.brokers[3].log())


if __name__ == "__main__":
    unittest.main()
