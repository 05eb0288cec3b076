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
import re
import shutil
import subprocess
import threading
import time
import unittest

from confluent_kafka.admin import AdminClient

import kproto
from broker import Broker
from cluster import wait_for
from helpers import create_topic, producer, read_partition
from test_describe_log_dirs import describe

REPLICA_NOT_AVAILABLE = 9
KAFKA_STORAGE_ERROR = 56
LOG_DIR_NOT_FOUND = 57
TOPIC = "jbod"


def partition_dirs(path):
    """The topic's partition directories in `path` (not a move's -future / -delete ones)."""
    return sorted(n for n in os.listdir(path) if re.fullmatch(re.escape(TOPIC) + r"-\d+", n))


def alter_replica_log_dirs(port, moves, version=2):
    """AlterReplicaLogDirs (34): moves {path: {topic: [partitions]}} -> {topic: {partition: error}}."""
    flexible = version >= 2
    header = (kproto.header_v2 if flexible else kproto.header_v1)(34, version, 7)
    if flexible:
        body = kproto.carray([kproto.cstring(path) + kproto.topic_partitions(topics, True) + kproto.NO_TAGS
                              for path, topics in moves.items()]) + kproto.NO_TAGS
    else:
        body = kproto.i32(len(moves)) + b"".join(kproto.string(path) + kproto.topic_partitions(topics, False)
                                                 for path, topics in moves.items())
    r = kproto.VersionedReader(kproto.round_trip(port, kproto.frame(header + body)), flexible)
    assert r.correlation_id == 7
    r.i32()  # throttle

    def partition():
        out = r.i32(), r.i16()
        r.tags()
        return out

    def topic():
        name, parts = r.string(), dict(r.array(partition))
        r.tags()
        return name, parts

    return dict(r.array(topic))


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

    def fill_one_partition(self, count, segment_bytes):
        """Creates TOPIC with one partition and writes `count` numbered 1 KB
        records to it (acks=all); returns the producer."""
        create_topic(self.broker.bootstrap, TOPIC, 1, {"segment.bytes": str(segment_bytes)})
        p = producer(self.broker.bootstrap, acks="all")
        for i in range(count):
            p.send(TOPIC, value=b"%05d" % i + b"x" * 1000, partition=0)
        p.flush(30)
        return p

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

    def test_a_replica_moves_to_the_other_directory_under_load_and_keeps_every_record(self):
        p = self.fill_one_partition(3000, 262144)
        home = 0 if partition_dirs(self.dirs[0]) else 1
        other = os.path.abspath(self.dirs[1 - home])

        # Producing on while it moves: nothing acknowledged may be lost.
        acked, stop = [], threading.Event()

        def keep_producing():
            i = 3000
            while not stop.is_set():
                futures = [p.send(TOPIC, value=b"%05d" % (i + j) + b"y" * 1000, partition=0) for j in range(50)]
                for j, f in enumerate(futures):
                    try:
                        f.get(timeout=30)
                        acked.append(i + j)
                    except Exception:  # NOT_LEADER_OR_FOLLOWER while it is reopened: kafka-python retries
                        pass
                i += 50

        t = threading.Thread(target=keep_producing)
        t.start()
        try:
            self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {TOPIC: [0]}}), {TOPIC: {0: 0}})
            self.assertTrue(wait_for(lambda: partition_dirs(other) == [TOPIC + "-0"] and
                                     not partition_dirs(self.dirs[home]), timeout=30),
                            (os.listdir(self.dirs[0]), os.listdir(self.dirs[1]), self.broker.log()[-2000:]))
            time.sleep(0.5)
        finally:
            stop.set()
            t.join(60)
        p.close(10)
        self.assertIn("moved to %s" % other, self.broker.log())
        self.assertGreater(len(acked), 0)
        # Every record, in order, offsets dense: the copy is the log.
        records = read_partition(self.broker.bootstrap, TOPIC, 0)
        self.assertEqual([r.offset for r in records], list(range(len(records))))
        numbers = [int(r.value[:5]) for r in records]
        self.assertEqual(numbers[:3000], list(range(3000)))
        self.assertTrue(set(acked) <= set(numbers), "acknowledged records lost in the move")
        _, results = describe(self.broker.port, 4)
        self.assertEqual(sorted(results[1 - home]["topics"][TOPIC]), [0])
        self.assertNotIn(TOPIC, results[home]["topics"])
        self.assertEqual(os.listdir(self.dirs[home]) if home else
                         sorted(n for n in os.listdir(self.dirs[0]) if n != "meta" and n != "meta.properties"), [])

        # Where it is after a restart, and the same records.
        self.broker.stop()
        self.broker.start()
        again = read_partition(self.broker.bootstrap, TOPIC, 0)
        self.assertEqual([r.value for r in again], [r.value for r in records])
        self.assertEqual(partition_dirs(other), [TOPIC + "-0"])
        # Asking again: it is there already.
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {TOPIC: [0]}}), {TOPIC: {0: 0}})

    def test_the_last_pass_tops_up_the_active_segment_rather_than_copying_it(self):
        # The shard is held while the replica is closed for the last pass:
        # it copies what was appended since the early passes (here nothing)
        # and the small files, not the whole active segment (~6 MB here).
        self.fill_one_partition(6000, 64 << 20).close(5)
        home = 0 if partition_dirs(self.dirs[0]) else 1
        other = os.path.abspath(self.dirs[1 - home])
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {TOPIC: [0]}}), {TOPIC: {0: 0}})
        done = re.compile(r"moved to %s \((\d+) bytes copied; closed for \d+ ms, the last pass copied (\d+) bytes\)"
                          % re.escape(other))
        self.assertTrue(wait_for(lambda: done.search(self.broker.log()), timeout=30), self.broker.log()[-2000:])
        total, last = map(int, done.search(self.broker.log()).groups())
        self.assertGreater(total, 6_000_000)
        self.assertLess(last, 256 * 1024, "the last pass copied the active segment again")
        self.assertEqual([int(r.value[:5]) for r in read_partition(self.broker.bootstrap, TOPIC, 0)],
                         list(range(6000)))

    def test_a_throttled_move_copies_at_its_rate_until_the_throttle_goes(self):
        # replica.alter.log.dirs.io.max.bytes.per.second (set by
        # kafka-reassign-partitions.sh --replica-alter-log-dirs-throttle):
        # 6 MB at 200 kB/s take 30 s; the move is still copying after 3 s,
        # and finishes once the rate is deleted.
        from test_broker_configs import incremental_alter
        self.fill_one_partition(6000, 1048576).close(5)
        home = 0 if partition_dirs(self.dirs[0]) else 1
        other = os.path.abspath(self.dirs[1 - home])
        rate = "replica.alter.log.dirs.io.max.bytes.per.second"
        self.assertEqual(incremental_alter(self.broker.port, 4, "0", [(rate, 0, "200000")]), (0, None))
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {TOPIC: [0]}}), {TOPIC: {0: 0}})

        def copied():
            futures = [n for n in os.listdir(other) if n.endswith("-future")]
            return sum(os.path.getsize(os.path.join(other, f, n)) for f in futures
                       for n in os.listdir(os.path.join(other, f))) if futures else None
        self.assertTrue(wait_for(lambda: copied(), timeout=10), os.listdir(other))
        time.sleep(3)
        self.assertEqual(partition_dirs(other), [], "the move did not keep to its throttle")
        self.assertLess(copied(), 3 * 1024 * 1024)
        _, results = describe(self.broker.port, 4)
        self.assertIn(TOPIC, results[1 - home]["futures"], results)  # DescribeLogDirs: the copy, as the future replica
        # Its offset lag, as Kafka's: the log's end minus the copy's. Still
        # in its first pass, the copy holds no offset for sure yet.
        self.assertEqual(results[1 - home]["future_lags"][TOPIC][0], 6000, results)
        self.assertEqual(incremental_alter(self.broker.port, 4, "0", [(rate, 1, "")]), (0, None))
        self.assertTrue(wait_for(lambda: partition_dirs(other) == [TOPIC + "-0"], timeout=30), self.broker.log()[-2000:])
        self.assertEqual(len(read_partition(self.broker.bootstrap, TOPIC, 0)), 6000)

    def test_a_move_under_way_is_replaced_by_the_next_one(self):
        # As Kafka: asked to move elsewhere while a move is copying, the copy
        # stops and goes and the replica moves there instead; asked to stay
        # where it is, it stays.
        from test_broker_configs import incremental_alter
        self.broker.stop()
        self.dirs.append(os.path.join(self.broker.tmp, "third"))
        self.broker.data_dir = ",".join(self.dirs)
        self.broker.start()
        self.fill_one_partition(3000, 1048576).close(5)
        home = next(i for i, d in enumerate(self.dirs) if partition_dirs(d))
        first, second = [os.path.abspath(d) for i, d in enumerate(self.dirs) if i != home]
        rate = "replica.alter.log.dirs.io.max.bytes.per.second"
        self.assertEqual(incremental_alter(self.broker.port, 4, "0", [(rate, 0, "100000")]), (0, None))

        def futures(d):
            return [n for n in os.listdir(d) if n.endswith("-future")]
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {first: {TOPIC: [0]}}), {TOPIC: {0: 0}})
        self.assertTrue(wait_for(lambda: futures(first), timeout=10))
        # Elsewhere: the first copy goes, the second starts.
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {second: {TOPIC: [0]}}), {TOPIC: {0: 0}})
        self.assertTrue(wait_for(lambda: not futures(first) and futures(second), timeout=10),
                        (os.listdir(first), os.listdir(second), self.broker.log()[-2000:]))
        self.assertIn("is replaced: to %s" % second, self.broker.log())
        # Back where it is: the copy goes, nothing moves.
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {os.path.abspath(self.dirs[home]): {TOPIC: [0]}}),
                         {TOPIC: {0: 0}})
        self.assertTrue(wait_for(lambda: not futures(second), timeout=10), os.listdir(second))
        self.assertEqual(partition_dirs(self.dirs[home]), [TOPIC + "-0"])
        self.assertEqual(partition_dirs(first) + partition_dirs(second), [])
        # And a move after that completes (unthrottled now).
        self.assertEqual(incremental_alter(self.broker.port, 4, "0", [(rate, 1, "")]), (0, None))
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {second: {TOPIC: [0]}}), {TOPIC: {0: 0}})
        self.assertTrue(wait_for(lambda: partition_dirs(second) == [TOPIC + "-0"], timeout=30))
        self.assertEqual(partition_dirs(self.dirs[home]), [])
        self.assertEqual([int(r.value[:5]) for r in read_partition(self.broker.bootstrap, TOPIC, 0)], list(range(3000)))

    def test_the_group_coordinators_partitions_move_and_keep_the_committed_offsets(self):
        # Emptying a disk means moving __consumer_offsets off it too: the
        # coordinator lets go of each partition for the swap and carries on.
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata
        from helpers import consumer
        create_topic(self.broker.bootstrap, TOPIC, 1)
        self.produce_all(1, count=10)
        tp = TopicPartition(TOPIC, 0)

        def committed():
            c = consumer(self.broker.bootstrap, group_id="movers", request_timeout_ms=30000)
            try:
                return c.committed(tp)
            finally:
                c.close()

        c = consumer(self.broker.bootstrap, group_id="movers", request_timeout_ms=30000)
        c.commit({tp: OffsetAndMetadata(10, None)})
        c.close()
        self.assertEqual(committed(), 10)
        offsets = "__consumer_offsets"

        def held(d):
            return sorted(int(n.rsplit("-", 1)[1]) for n in os.listdir(d)
                          if re.fullmatch(re.escape(offsets) + r"-\d+", n))
        def written(d, p):
            path = os.path.join(d, "%s-%d" % (offsets, p))
            return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path) if n.endswith(".log"))
        # Empty the directory that holds the group's offsets (the partition written to).
        source = next(i for i in (0, 1) if any(written(self.dirs[i], p) for p in held(self.dirs[i])))
        moving = held(self.dirs[source])
        other = os.path.abspath(self.dirs[1 - source])
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {offsets: moving}}),
                         {offsets: {p: 0 for p in moving}})
        self.assertTrue(wait_for(lambda: held(self.dirs[source]) == [], timeout=60), self.broker.log()[-2000:])
        self.assertEqual(len(held(other)), 50)
        self.assertEqual(committed(), 10)
        c = consumer(self.broker.bootstrap, group_id="movers", request_timeout_ms=30000)
        c.commit({tp: OffsetAndMetadata(7, None)})
        c.close()
        self.assertEqual(committed(), 7)
        self.broker.stop()
        self.broker.start()
        self.assertEqual(committed(), 7)
        self.assertEqual(held(self.dirs[source]), [])

    def test_a_replica_moves_to_a_directory_on_another_file_system(self):
        # Two disks are two file systems: the copy cannot use copy_file_range
        # between them on Linux 5.19+ (EXDEV) and falls back to reads and writes.
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.broker.stop()
        with open(os.path.join(self.dirs[1], "meta.properties")) as f:
            meta = f.read()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", self.dirs[1]]).returncode != 0:
            self.skipTest("cannot mount a tmpfs here")
        try:
            self.move_across_file_systems(meta)
        finally:
            self.broker.stop()
            subprocess.run(["umount", "-l", self.dirs[1]])

    def move_across_file_systems(self, meta):
        with open(os.path.join(self.dirs[1], "meta.properties"), "w") as f:  # the disk as it was formatted
            f.write(meta)
        self.broker.start()
        create_topic(self.broker.bootstrap, TOPIC, 2)
        self.produce_all(2, count=500)
        on_first = partition_dirs(self.dirs[0])
        self.assertEqual(len(on_first), 1, on_first)
        moving = int(on_first[0].rsplit("-", 1)[1])
        other = os.path.abspath(self.dirs[1])
        self.assertEqual(alter_replica_log_dirs(self.broker.port, {other: {TOPIC: [moving]}}), {TOPIC: {moving: 0}})
        self.assertTrue(wait_for(lambda: len(partition_dirs(other)) == 2, timeout=30), self.broker.log()[-2000:])
        self.assertEqual(partition_dirs(self.dirs[0]), [])
        self.assert_records(range(2), count=500)
        self.broker.stop()
        self.broker.start()
        self.assert_records(range(2), count=500)

    def test_alter_replica_log_dirs_errors(self):
        create_topic(self.broker.bootstrap, TOPIC, 1)
        for version in (0, 1, 2):
            got = alter_replica_log_dirs(self.broker.port, {
                "/no/such/dir": {TOPIC: [0]},
                os.path.abspath(self.dirs[1]): {TOPIC: [5], "missing": [0]},
            }, version)
            self.assertEqual(got, {TOPIC: {0: LOG_DIR_NOT_FOUND, 5: REPLICA_NOT_AVAILABLE},
                                   "missing": {0: REPLICA_NOT_AVAILABLE}}, version)
        got = alter_replica_log_dirs(self.broker.port, {"relative/path": {TOPIC: [0]}})
        self.assertEqual(got, {TOPIC: {0: LOG_DIR_NOT_FOUND}})

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
