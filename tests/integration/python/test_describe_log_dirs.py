"""DescribeLogDirs (35), v0-4, over raw sockets (no client on the machine
sends it: kafka-log-dirs.sh and the admin consoles that show topic sizes are
JVM or Go): the broker's one log directory, absolute, with the size of every
partition replica it holds (all topics, or those asked for; unknown ones left
out), v3's top-level error, v4's volume sizes, DESCRIBE on the cluster
(CLUSTER_AUTHORIZATION_FAILED without it), and in a cluster each broker
reporting its follower replicas too, whose sizes match the leader's."""
import json
import os
import subprocess
import unittest

from kafka.admin import NewTopic

import kproto
from broker import wait_port
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, admin, create_topic, producer, wait_for_partitions
from test_acls import USERS, admin_properties, runnel, secured_broker

CLUSTER_AUTHORIZATION_FAILED = 31


def request(version, topics=None, correlation_id=5):
    """topics: None for all, else {topic: [partitions]}."""
    flexible = version >= 2
    header = (kproto.header_v2 if flexible else kproto.header_v1)(35, version, correlation_id)
    return kproto.frame(header + kproto.topic_partitions(topics, flexible) + (kproto.NO_TAGS if flexible else b""))


def parse(payload, version):
    """-> (top-level error or None, [{error, dir, topics: {name: {p: size}}, futures: {name: {p: size}},
    future_lags: {name: {p: offset lag}}, total, usable}]): futures are the copies of replicas moving into
    the directory (a current replica's lag is always 0)."""
    r = kproto.VersionedReader(payload, version >= 2)
    assert r.correlation_id == 5
    r.i32()  # throttle
    top = r.i16() if version >= 3 else None

    def partition():
        p, size, lag, future = r.i32(), r.i64(), r.i64(), r.take(1)[0]
        assert future or lag == 0, lag
        r.tags()
        return p, size, lag, future

    def topic():
        name, parts = r.string(), r.array(partition)
        r.tags()
        return name, parts

    def result():
        out = {"error": r.i16(), "dir": r.string(), "topics": {}, "futures": {}, "future_lags": {}}
        for name, parts in r.array(topic):
            for p, size, lag, future in parts:
                out["futures" if future else "topics"].setdefault(name, {})[p] = size
                if future:
                    out["future_lags"].setdefault(name, {})[p] = lag
        if version >= 4:
            out["total"], out["usable"] = r.i64(), r.i64()
        r.tags()
        return out

    return top, r.array(result)


def describe(port, version, topics=None):
    return parse(kproto.round_trip(port, request(version, topics)), version)


class DescribeLogDirsTest(BrokerTestCase):
    broker_sets = {"num.partitions": 1}

    def setUp(self):
        self.port = self.broker.port

    def tearDown(self):
        self.assertBrokerAlive()

    def test_every_version_reports_the_directory_and_partition_sizes(self):
        create_topic(self.bootstrap, "ld-sizes", 3)
        p = producer(self.bootstrap, acks="all")
        for _ in range(20):
            p.send("ld-sizes", value=b"x" * 1000, partition=0)
        p.flush(10)
        p.close(5)
        for version in range(5):
            top, results = describe(self.port, version)
            self.assertEqual(top, 0 if version >= 3 else None)
            self.assertEqual(len(results), 1, version)
            d = results[0]
            self.assertEqual(d["error"], 0)
            self.assertEqual(d["dir"], os.path.abspath(self.broker.data_dir).rstrip("/"))
            sizes = d["topics"]["ld-sizes"]
            self.assertEqual(sorted(sizes), [0, 1, 2])
            self.assertGreater(sizes[0], 20 * 1000)
            self.assertEqual((sizes[1], sizes[2]), (0, 0))
            if version >= 4:
                self.assertGreater(d["total"], 0)
                self.assertTrue(0 <= d["usable"] <= d["total"])

    def test_only_the_partitions_asked_for(self):
        create_topic(self.bootstrap, "ld-some", 2)
        _, results = describe(self.port, 4, {"ld-some": [1, 7], "ld-missing": [0]})
        self.assertEqual(results[0]["topics"], {"ld-some": {1: 0}})
        _, results = describe(self.port, 1, {"ld-some": [0]})
        self.assertEqual(results[0]["topics"], {"ld-some": {0: 0}})
        _, results = describe(self.port, 2, {})
        self.assertEqual(results[0]["topics"], {})


class DescribeLogDirsAclTest(unittest.TestCase):
    def test_needs_describe_on_the_cluster(self):
        b = secured_broker()
        b.start()
        try:
            port = int(b.sasl.split(":")[1])
            self.assertTrue(wait_port(port, 10.0))

            def as_alice(version):
                c = kproto.plain_login(port, "alice", USERS["alice"])
                try:
                    c.send(request(version))
                    return parse(c.recv_frame(), version)
                finally:
                    c.close()

            self.assertEqual(as_alice(3), (CLUSTER_AUTHORIZATION_FAILED, []))
            self.assertEqual(as_alice(1), (None, []))
            r = runnel("acl", "add", "--bootstrap-server", b.sasl, "--command-config", admin_properties(b.tmp),
                       "--allow-principal", "User:alice", "--operation", "Describe", "--cluster")
            self.assertEqual(r.returncode, 0, r.stderr)
            top, results = as_alice(3)
            self.assertEqual((top, len(results)), (0, 1))
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


class ClusterDescribeLogDirsTest(unittest.TestCase):
    def test_each_broker_reports_its_replicas_leaders_and_followers(self):
        with Cluster(3) as c:
            a = admin(c.bootstrap)
            try:
                a.create_topics([NewTopic("ld-rf3", 1, 3)])
            finally:
                a.close()
            wait_for_partitions(c.bootstrap, "ld-rf3", 1)
            p = producer(c.bootstrap, acks="all")
            for _ in range(10):
                p.send("ld-rf3", value=b"y" * 500, partition=0)
            p.flush(10)
            p.close(5)

            def sizes():
                out = {}
                for n, b in c.brokers.items():
                    _, results = describe(b.port, 4, {"ld-rf3": [0]})
                    out[n] = results[0]["topics"].get("ld-rf3", {}).get(0)
                return out

            # Replication factor 3 on three brokers: every one holds a replica,
            # the same bytes once the followers caught up.
            self.assertTrue(wait_for(lambda: len(set(sizes().values())) == 1, timeout=15), sizes())
            self.assertGreater(next(iter(sizes().values())), 10 * 500)

            # `runnel cluster log-dirs`, kafka-log-dirs.sh --describe's document.
            b1 = c.brokers[1]
            r = subprocess.run([b1.binary, "cluster", "log-dirs", "--topic-list", "ld-rf3", "--bootstrap",
                                b1.bootstrap, "--format", "json"], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["version"], 1)
            self.assertEqual([e["broker"] for e in doc["brokers"]], [1, 2, 3])
            for entry in doc["brokers"]:
                (log_dir,) = entry["logDirs"]
                self.assertEqual(log_dir["logDir"], os.path.abspath(c.brokers[entry["broker"]].data_dir))
                self.assertIsNone(log_dir["error"])
                self.assertEqual(log_dir["partitions"], [{"partition": "ld-rf3-0", "size": sizes()[1],
                                                          "offsetLag": 0, "isFuture": False}])
            r = subprocess.run([b1.binary, "cluster", "log-dirs", "--broker-list", "2,7", "--bootstrap",
                                b1.bootstrap], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("broker 7 is not registered", r.stderr)
            rows = [line.split() for line in r.stdout.splitlines()]
            self.assertEqual(rows[0], ["BROKER", "DIR", "STATUS", "PARTITION", "SIZE"])
            self.assertIn(["2", os.path.abspath(c.brokers[2].data_dir), "ok", "ld-rf3-0", str(sizes()[2])], rows)
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())


if __name__ == "__main__":
    unittest.main()
