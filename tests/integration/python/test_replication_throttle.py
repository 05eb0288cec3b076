"""Replication throttles (KIP-73), what kafka-reassign-partitions.sh --throttle
sets: the dynamic broker keys leader.replication.throttled.rate and
follower.replication.throttled.rate (described with Kafka's default and
synonyms, validated with Kafka's messages), and the topic configs naming the
throttled replicas. On three brokers, a move onto a broker whose follower
side is throttled to 1 B/s stays in progress while an unthrottled topic
moves to the same broker; so does a move whose leader side is throttled;
each completes once its throttle is removed, every record copied."""
import json
import subprocess
import unittest

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, producer
from test_broker_configs import describe, incremental_alter
from test_cluster_replication import FAST, create_replicated, read_all, states
from test_partition_reassignments import alter, ongoing

BROKER, TOPIC = 4, 2
SET, DELETE = 0, 1
DEFAULT_SOURCE, DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER, DYNAMIC_TOPIC = 5, 2, 3, 1
UNTHROTTLED = "9223372036854775807"
RATES = ("follower.replication.throttled.rate", "leader.replication.throttled.rate")
LOG_DIRS_RATE = "replica.alter.log.dirs.io.max.bytes.per.second"


class ThrottleConfigTest(BrokerTestCase):
    def test_rates_are_dynamic_broker_keys(self):
        port = self.broker.port
        err, configs = describe(port, BROKER, "0")
        self.assertEqual(err, 0)
        for key in RATES + (LOG_DIRS_RATE,):
            self.assertEqual(configs[key][:3], (UNTHROTTLED, DEFAULT_SOURCE, False))
        # The copies between log directories' rate: the same kind of key (test_log_dirs uses it).
        self.assertEqual(incremental_alter(port, BROKER, "0", [(LOG_DIRS_RATE, SET, "4096")]), (0, None))
        self.assertEqual(describe(port, BROKER, "0", [LOG_DIRS_RATE])[1][LOG_DIRS_RATE][:2], ("4096", DYNAMIC_BROKER))
        self.assertEqual(incremental_alter(port, BROKER, "0", [(LOG_DIRS_RATE, SET, "-5")]), (
            42, "Invalid value -5 for configuration %s: Value must be at least 0" % LOG_DIRS_RATE))
        self.assertEqual(incremental_alter(port, BROKER, "0", [(LOG_DIRS_RATE, DELETE, "")]), (0, None))
        self.assertEqual(incremental_alter(port, BROKER, "0", [(RATES[1], SET, "1048576")]), (0, None))
        self.assertEqual(incremental_alter(port, BROKER, "", [(RATES[1], SET, "2048")]), (0, None))
        _, configs = describe(port, BROKER, "0", [RATES[1]])
        value, source, _, synonyms = configs[RATES[1]]
        self.assertEqual((value, source), ("1048576", DYNAMIC_BROKER))
        self.assertEqual(synonyms, [(RATES[1], "1048576", DYNAMIC_BROKER), (RATES[1], "2048", DYNAMIC_DEFAULT_BROKER),
                                    (RATES[1], UNTHROTTLED, DEFAULT_SOURCE)])
        _, configs = describe(port, BROKER, "")
        self.assertEqual(configs[RATES[1]][:2], ("2048", DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(incremental_alter(port, BROKER, "0", [(RATES[0], SET, "-1")]), (
            42, "Invalid value -1 for configuration follower.replication.throttled.rate: Value must be at least 0"))
        self.assertEqual(incremental_alter(port, BROKER, "0", [(RATES[0], SET, "fast")]), (
            42, "Invalid value fast for configuration follower.replication.throttled.rate: Not a number of type LONG"))
        for scope in ("0", ""):
            self.assertEqual(incremental_alter(port, BROKER, scope, [(RATES[1], DELETE, "")]), (0, None))
        _, configs = describe(port, BROKER, "0", [RATES[1]])
        self.assertEqual(configs[RATES[1]][:2], (UNTHROTTLED, DEFAULT_SOURCE))
        # The topic side: the replicas, "*" or partition:broker pairs.
        kproto_topic = "th-topic"
        from helpers import create_topic
        create_topic(self.bootstrap, kproto_topic, 1)
        for key, value in (("leader.replication.throttled.replicas", "0:0,1:0"),
                           ("follower.replication.throttled.replicas", "*")):
            self.assertEqual(incremental_alter(port, TOPIC, kproto_topic, [(key, SET, value)]), (0, None))
            _, configs = describe(port, TOPIC, kproto_topic, [key])
            self.assertEqual(configs[key][:2], (value, DYNAMIC_TOPIC))
        self.assertBrokerAlive()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterThrottleTest(unittest.TestCase):
    def setUp(self):
        # Small replica fetches: the first one of a throttled replica
        # (before any rate is measured) cannot bring the whole log.
        self.cluster = Cluster(3, sets=dict(FAST, **{"replica.fetch.max.bytes": 16384})).start()

    def tearDown(self):
        self.cluster.cleanup()

    def fill(self, topic, n=200):
        p = producer(self.cluster.bootstrap, acks="all", retries=5)
        for i in range(n):
            p.send(topic, value=b"%d-" % i + b"x" * 2000, partition=0)
        p.flush()
        p.close()

    def in_sync(self, topic, via, node):
        s = states(self.cluster.view(via, [topic]), topic).get(0)
        return bool(s) and node in s[3]

    def check_move_held_then_released(self, side):
        """side: "follower" (the new replica's broker is throttled) or "leader"."""
        c = self.cluster
        held = create_replicated(self, c, "th-held", 1, 1)
        src = held[0][2][0]
        dst = next(n for n in sorted(c.brokers) if n != src)
        free = create_replicated(self, c, "th-free", 1, 1)
        free_src = free[0][2][0]
        self.fill("th-held")
        self.fill("th-free")
        throttled_node = dst if side == "follower" else src
        key = "%s.replication.throttled" % side
        port = c.brokers[throttled_node].port
        self.assertEqual(incremental_alter(port, BROKER, str(throttled_node), [(key + ".rate", SET, "1")]), (0, None))
        self.assertEqual(incremental_alter(port, TOPIC, "th-held", [(key + ".replicas", SET,
                                                                     "0:%d" % throttled_node)]), (0, None))
        _, _, topics = alter(c.brokers[src].port, {"th-held": {0: [src, dst]}})
        self.assertEqual(topics["th-held"][0][0], 0)
        # The other topic (no throttled replicas) moves as fast as it can.
        others = [free_src] + [n for n in sorted(c.brokers) if n != free_src][:1]
        _, _, topics = alter(c.brokers[src].port, {"th-free": {0: others}})
        self.assertEqual(topics["th-free"][0][0], 0)
        self.assertTrue(wait_for(lambda: self.in_sync("th-free", src, others[1]), timeout=30))
        # The throttled one stays in progress (1 B/s over ten windows is
        # spent by its first fetch).
        self.assertFalse(wait_for(lambda: self.in_sync("th-held", src, dst), timeout=4))
        self.assertIn("th-held", ongoing(c.brokers[src].port)[2])
        # Without the throttle it completes, every record copied.
        self.assertEqual(incremental_alter(port, BROKER, str(throttled_node), [(key + ".rate", DELETE, "")]), (0, None))
        self.assertTrue(wait_for(lambda: not ongoing(c.brokers[src].port)[2], timeout=30),
                        ongoing(c.brokers[src].port))
        self.assertTrue(self.in_sync("th-held", src, dst))
        self.assertEqual(len(read_all(c.bootstrap, "th-held", 1, 200)), 200)
        for b in c.brokers.values():
            self.assertTrue(b.alive(), b.log())

    def test_the_command_line_throttles_a_move_and_verify_removes_it(self):
        # `runnel cluster reassign --throttle` and `--verify`, as
        # kafka-reassign-partitions.sh --execute --throttle and --verify.
        c = self.cluster
        src = create_replicated(self, c, "th-cli", 1, 1)[0][2][0]
        dst = next(n for n in sorted(c.brokers) if n != src)
        self.fill("th-cli")
        spec = "th-cli:0=%d,%d" % (src, dst)

        def reassign(*args):
            return subprocess.run([c.brokers[1].binary, "cluster", "reassign", *args, "--bootstrap",
                                   c.brokers[1].bootstrap], capture_output=True, text=True, timeout=60)

        r = reassign(spec, "--throttle", "1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], "Throttle: 1 B/s on brokers %d,%d" % tuple(sorted((src, dst))))
        for n in (src, dst):
            _, configs = describe(c.brokers[n].port, BROKER, str(n), list(RATES))
            self.assertEqual([configs[k][:2] for k in RATES], [("1", DYNAMIC_BROKER)] * 2)
        _, configs = describe(c.brokers[1].port, TOPIC, "th-cli", ["leader.replication.throttled.replicas",
                                                                  "follower.replication.throttled.replicas"])
        self.assertEqual(configs["leader.replication.throttled.replicas"][0], "0:%d" % src)
        self.assertEqual(configs["follower.replication.throttled.replicas"][0], "0:%d" % dst)
        self.assertFalse(wait_for(lambda: self.in_sync("th-cli", src, dst), timeout=4))
        r = reassign(spec, "--verify")
        self.assertEqual((r.returncode, r.stdout.splitlines()[1].split()), (1, ["th-cli", "0", "in", "progress"]))
        # A higher rate lets it finish; --verify then removes the throttle.
        self.assertEqual(reassign(spec, "--throttle", "1000000000").returncode, 0)
        self.assertTrue(wait_for(lambda: self.in_sync("th-cli", src, dst), timeout=30))
        r = reassign(spec, "--verify", "--format", "json")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {
            "partitions": [{"topic": "th-cli", "partition": 0, "status": "complete"}], "log_dirs": [],
            "throttle_removed": True}))
        for n in c.brokers:
            _, configs = describe(c.brokers[n].port, BROKER, str(n), list(RATES))
            self.assertEqual([configs[k][:2] for k in RATES], [(UNTHROTTLED, DEFAULT_SOURCE)] * 2)
        _, configs = describe(c.brokers[1].port, TOPIC, "th-cli", ["leader.replication.throttled.replicas"])
        self.assertEqual(configs["leader.replication.throttled.replicas"][0], "")
        self.assertEqual(len(read_all(c.bootstrap, "th-cli", 1, 200)), 200)

    def test_a_throttled_follower_holds_back_its_move(self):
        self.check_move_held_then_released("follower")

    def test_a_throttled_leader_holds_back_a_move(self):
        self.check_move_held_then_released("leader")


if __name__ == "__main__":
    unittest.main()
