"""Several log directories (log.dirs=a,b, Kafka's JBOD), with kafka-python,
librdkafka and DescribeLogDirs over raw sockets:

- a topic's partitions are spread over the directories (each new one where
  the fewest are), each directory gets the broker's meta.properties, and
  DescribeLogDirs lists each directory with the replicas it holds;
- after a restart every record is read back from both;
- a directory that has lost its meta.properties (a disk not mounted: an
  empty mount point) is offline: DescribeLogDirs says KAFKA_STORAGE_ERROR, its
  partitions have no leader, the others keep working, a new topic goes to
  the online directory only, and nothing is created again empty over the
  missing data; once the disk is back, so are its partitions and records."""
import json
import os
import shutil
import subprocess
import unittest

from confluent_kafka.admin import AdminClient

from broker import Broker
from helpers import create_topic, producer, read_partition
from test_describe_log_dirs import describe

KAFKA_STORAGE_ERROR = 56
TOPIC = "jbod"


def partition_dirs(path):
    return sorted(n for n in os.listdir(path) if n.startswith(TOPIC + "-"))


def leaders(bootstrap, topic):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return {p: m.leader for p, m in md.topics[topic].partitions.items()}


class LogDirsTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker()
        self.dirs = [self.broker.data_dir, os.path.join(self.broker.tmp, "second")]
        self.broker.data_dir = ",".join(self.dirs)
        self.broker.start()

    def tearDown(self):
        self.broker.cleanup()

    def log_dirs_cli(self):
        """`runnel cluster log-dirs --format json` (kafka-log-dirs.sh --describe)."""
        return subprocess.run([self.broker.binary, "cluster", "log-dirs", "--topic-list", TOPIC, "--bootstrap",
                               self.broker.bootstrap, "--format", "json"], capture_output=True, text=True, timeout=60)

    def produce_all(self, partitions, count=10):
        p = producer(self.broker.bootstrap, acks="all")
        for part in range(partitions):
            for i in range(count):
                p.send(TOPIC, value=b"%d-%d" % (part, i), partition=part)
        p.flush(15)
        p.close(5)

    def assert_records(self, partitions, count=10):
        for part in partitions:
            got = [r.value for r in read_partition(self.broker.bootstrap, TOPIC, part)]
            self.assertEqual(got, [b"%d-%d" % (part, i) for i in range(count)], part)

    def test_partitions_spread_over_the_directories_and_come_back_after_a_restart(self):
        create_topic(self.broker.bootstrap, TOPIC, 6)
        first, second = partition_dirs(self.dirs[0]), partition_dirs(self.dirs[1])
        self.assertEqual((len(first), len(second)), (3, 3), (first, second))
        self.assertEqual(sorted(first + second), ["%s-%d" % (TOPIC, p) for p in range(6)])
        metas = []
        for d in self.dirs:
            with open(os.path.join(d, "meta.properties")) as f:
                metas.append(f.read())
        cluster_ids = [[l for l in m.splitlines() if l.startswith("cluster.id=")] for m in metas]
        self.assertEqual(cluster_ids[0], cluster_ids[1])
        self.produce_all(6)

        _, results = describe(self.broker.port, 4)
        self.assertEqual([r["dir"] for r in results], [os.path.abspath(d) for d in self.dirs])
        for r, names in zip(results, (first, second)):
            self.assertEqual(r["error"], 0)
            self.assertEqual(sorted(r["topics"][TOPIC]), sorted(int(n.rsplit("-", 1)[1]) for n in names))
            self.assertTrue(all(size > 0 for size in r["topics"][TOPIC].values()), r)
            self.assertGreater(r["total"], 0)

        r = self.log_dirs_cli()
        self.assertEqual(r.returncode, 0, r.stderr)
        (broker,) = json.loads(r.stdout)["brokers"]
        self.assertEqual([(d["logDir"], d["error"], sorted(p["partition"] for p in d["partitions"]))
                          for d in broker["logDirs"]],
                         [(os.path.abspath(d), None, names) for d, names in zip(self.dirs, (first, second))])

        self.broker.stop()
        self.broker.start()
        self.assert_records(range(6))
        self.assertEqual((partition_dirs(self.dirs[0]), partition_dirs(self.dirs[1])), (first, second))

    def test_a_directory_that_lost_its_meta_properties_stays_offline_until_it_is_back(self):
        create_topic(self.broker.bootstrap, TOPIC, 4)
        self.produce_all(4)
        on_second = sorted(int(n.rsplit("-", 1)[1]) for n in partition_dirs(self.dirs[1]))
        on_first = sorted(set(range(4)) - set(on_second))
        self.assertTrue(on_first and on_second)
        self.broker.stop()

        away = self.dirs[1] + ".away"
        os.rename(self.dirs[1], away)
        os.makedirs(self.dirs[1])  # the empty mount point
        self.broker.start()
        _, results = describe(self.broker.port, 4)
        self.assertEqual(results[1]["error"], KAFKA_STORAGE_ERROR)
        self.assertEqual(results[1]["topics"], {})
        self.assertEqual(sorted(results[0]["topics"][TOPIC]), on_first)
        got = leaders(self.broker.bootstrap, TOPIC)
        for p in on_second:
            self.assertEqual(got[p], -1, "an offline directory's partition has a leader")
        for p in on_first:
            self.assertEqual(got[p], 0)
        self.assert_records(on_first)
        create_topic(self.broker.bootstrap, "jbod-new", 3)
        self.assertEqual(os.listdir(self.dirs[1]), [], "the offline directory was written to")
        self.assertIn("meta.properties is gone", self.broker.log())
        (broker,) = json.loads(self.log_dirs_cli().stdout)["brokers"]
        self.assertEqual(broker["logDirs"][1], {"logDir": os.path.abspath(self.dirs[1]), "partitions": [],
                                                "error": "org.apache.kafka.common.errors.KafkaStorageException"})
        self.broker.stop()

        shutil.rmtree(self.dirs[1])
        os.rename(away, self.dirs[1])
        self.broker.start()
        self.assert_records(range(4))
        _, results = describe(self.broker.port, 4)
        self.assertEqual([r["error"] for r in results], [0, 0])
        self.assertEqual(sorted(results[1]["topics"][TOPIC]), on_second)

    def test_a_reordered_list_is_refused(self):
        create_topic(self.broker.bootstrap, TOPIC, 2)
        self.broker.stop()
        self.broker.data_dir = ",".join(reversed(self.dirs))
        with self.assertRaises(RuntimeError):
            self.broker.start()
        self.assertIn("list %s first again" % os.path.abspath(self.dirs[0]), self.broker.log())
        self.broker.data_dir = ",".join(self.dirs)
        self.broker.start()
        self.assertEqual(len(leaders(self.broker.bootstrap, TOPIC)), 2)

    def test_a_directory_listed_twice_is_refused(self):
        self.broker.stop()
        self.broker.data_dir = self.dirs[0] + "," + self.dirs[0] + "/"
        with self.assertRaises(RuntimeError):
            self.broker.start()
        self.assertIn("Duplicate log directory", self.broker.log())


if __name__ == "__main__":
    unittest.main()
