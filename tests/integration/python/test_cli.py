"""The rpk-style command line against a live broker and a three-broker
cluster: `runnel topic create|list|describe|alter-config|add-partitions|
delete`, `runnel produce` and `runnel consume`, tables and --format json,
exit codes scripts can trust (0 done, 1 refused, 2 bad usage), and what the
commands did checked through other clients (confluent-kafka)."""
import json
import os
import pty
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition

import etcd
from broker import Broker
from cluster import Cluster, wait_for
from helpers import admin, read_with_librdkafka

RUNNEL = os.environ.get("RUNNEL_BIN")


def cli(bootstrap, *args, stdin=None):
    r = subprocess.run([RUNNEL] + list(args) + ["--bootstrap", bootstrap], input=stdin, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def murmur2_partitions(bootstrap, topic, keys):
    """Where confluent-kafka's murmur2 partitioner (the Java client's) puts each key."""
    where = {}
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2"})
    for k in keys:
        p.produce(topic, key=k.encode(), value=b"probe",
                  on_delivery=lambda err, m: where.__setitem__(m.key().decode(), m.partition()))
    p.flush(30)
    return where


class CliChecks:
    """The checks, run against self.bootstrap (one broker, or any of a cluster)."""

    def test_topic_commands(self):
        rc, out, err = cli(self.bootstrap, "topic", "create", "cli-a", "cli-b", "-p", "3", "-c", "retention.ms=3600000")
        self.assertEqual(rc, 0, err)
        self.assertIn("cli-a", out)
        rc, out, err = cli(self.bootstrap, "topic", "create", "cli-a")
        self.assertEqual(rc, 1)
        self.assertIn("TOPIC_ALREADY_EXISTS", out)
        rc, out, _ = cli(self.bootstrap, "topic", "list", "--format", "json")
        self.assertEqual(rc, 0)
        listed = {t["name"]: t for t in json.loads(out)}
        self.assertEqual(listed["cli-a"]["partitions"], 3)
        self.assertNotIn("__consumer_offsets", listed)
        rc, out, err = cli(self.bootstrap, "topic", "alter-config", "cli-a", "-s", "segment.ms=600000",
                           "-d", "retention.ms")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(self.bootstrap, "topic", "add-partitions", "cli-a", "-n", "2")
        self.assertEqual(rc, 0, err)
        deadline = time.time() + 20
        while True:
            rc, out, err = cli(self.bootstrap, "topic", "describe", "cli-a", "--format", "json")
            self.assertEqual(rc, 0, err)
            d = json.loads(out)
            if len(d["partitions"]) == 5 or time.time() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(len(d["partitions"]), 5)
        configs = {c["name"]: (c["value"], c["source"]) for c in d["configs"]}
        self.assertEqual(configs.get("segment.ms"), ("600000", "DYNAMIC_TOPIC_CONFIG"))
        self.assertNotIn("retention.ms", configs)  # back to its default: not listed without --all-configs
        rc, out, _ = cli(self.bootstrap, "topic", "describe", "cli-a", "--all-configs")
        self.assertEqual(rc, 0)
        self.assertIn("retention.ms", out)
        self.assertIn("PARTITIONS", out)
        rc, out, _ = cli(self.bootstrap, "topic", "describe", "no-such-topic")
        self.assertEqual(rc, 1)
        rc, out, _ = cli(self.bootstrap, "topic", "delete", "cli-b", "no-such-topic")
        self.assertEqual(rc, 1)
        self.assertIn("UNKNOWN_TOPIC_OR_PARTITION", out)
        rc, out, _ = cli(self.bootstrap, "topic", "list")
        self.assertNotIn("cli-b", out)
        rc, _, err = cli(self.bootstrap, "topic", "create", "cli-c", "-c", "no-equals-sign")
        self.assertEqual(rc, 2, err)

    def test_produce_and_consume(self):
        topic = "cli-pc"
        rc, _, err = cli(self.bootstrap, "topic", "create", topic, "-p", "4")
        self.assertEqual(rc, 0, err)
        keys = ["k%d" % i for i in range(20)]
        lines = "".join("%s:value-%d\n" % (k, i) for i, k in enumerate(keys)) + "no-key-line\n"
        rc, out, err = cli(self.bootstrap, "produce", topic, "-k", ":", stdin=lines)
        self.assertEqual(rc, 0, err)
        self.assertIn("Produced 21 record(s)", out)
        # Each key where the Java client's partitioner puts it.
        want = murmur2_partitions(self.bootstrap, topic, keys)
        rc, out, err = cli(self.bootstrap, "consume", topic, "-e", "--format", "json")
        self.assertEqual(rc, 0, err)
        records = [json.loads(l) for l in out.splitlines()]
        ours = [r for r in records if r["value"] != "probe"]
        self.assertEqual(len(ours), 21)
        for r in ours:
            if r["key"] is not None:
                self.assertEqual(r["partition"], want[r["key"]], r)
                self.assertEqual(r["value"], "value-%d" % keys.index(r["key"]))
        # Offsets dense and increasing per partition.
        by_partition = {}
        for r in records:
            by_partition.setdefault(r["partition"], []).append(r["offset"])
        for offsets in by_partition.values():
            self.assertEqual(offsets, list(range(offsets[0], offsets[0] + len(offsets))))
        # -c, -p, -o and a format string.
        rc, out, _ = cli(self.bootstrap, "consume", topic, "-p", "0", "-o", "1", "-c", "1", "-f", "%p/%o %k\\n")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^0/1 ")
        rc, out, _ = cli(self.bootstrap, "consume", topic, "-o", "end", "-e")
        self.assertEqual((rc, out), (0, ""))
        # -g: commits what it printed; another client sees the commits; a second run starts there.
        # (In a cluster the group's new coordinator may still be loading: the
        # tool asks again rather than failing or starting from nothing.)
        rc, out, err = cli(self.bootstrap, "consume", topic, "-g", "cli-group", "-e", "-f", "%s\\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), len(records))
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "cli-group"})
        try:
            committed = c.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
        finally:
            c.close()
        self.assertEqual(sum(tp.offset for tp in committed), len(records))
        cli(self.bootstrap, "produce", topic, "-p", "3", stdin="later\n")
        rc, out, _ = cli(self.bootstrap, "consume", topic, "-g", "cli-group", "-e")
        self.assertEqual(out, "later\n")
        rc, _, err = cli(self.bootstrap, "produce", topic, "-p", "9", stdin="x\n")
        self.assertEqual(rc, 1)
        self.assertIn("no partition 9", err)

        # Headers (-H) on every record; consume --format json shows them, and so does a client.
        rc, _, err = cli(self.bootstrap, "topic", "create", "cli-headers", "-p", "1")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(self.bootstrap, "produce", "cli-headers", "-p", "0", "-H", "source=cli", "-H", "n=1",
                           stdin="one\ntwo\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(self.bootstrap, "consume", "cli-headers", "-e", "--format", "json")
        self.assertEqual(rc, 0, err)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([l["value"] for l in lines], ["one", "two"])
        for l in lines:
            self.assertEqual(l["headers"], [{"key": "source", "value": "cli"}, {"key": "n", "value": "1"}])
        got = read_with_librdkafka(self.bootstrap, "cli-headers", 0, 2)
        self.assertEqual([m.headers() for m in got], [[("source", b"cli"), ("n", b"1")]] * 2)
        rc, _, err = cli(self.bootstrap, "produce", "cli-headers", "-H", "no-equals-sign", stdin="x\n")
        self.assertEqual(rc, 2, err)

        # -z: batches in each codec, read back by librdkafka and by runnel consume.
        rc, _, err = cli(self.bootstrap, "topic", "create", "cli-codecs", "-p", "1")
        self.assertEqual(rc, 0, err)
        codecs = ["gzip", "snappy", "lz4", "zstd"]
        for codec in codecs:
            rc, out, err = cli(self.bootstrap, "produce", "cli-codecs", "-z", codec, stdin=codec + "-" + "a" * 500 + "\n")
            self.assertEqual(rc, 0, err)
        rc, out, err = cli(self.bootstrap, "consume", "cli-codecs", "-e", "-f", "%s\n")
        self.assertEqual(out.splitlines(), [c + "-" + "a" * 500 for c in codecs])
        got = read_with_librdkafka(self.bootstrap, "cli-codecs", 0, len(codecs))
        self.assertEqual([m.value().decode() for m in got], [c + "-" + "a" * 500 for c in codecs])
        rc, _, err = cli(self.bootstrap, "produce", "cli-codecs", "-z", "brotli", stdin="x\n")
        self.assertEqual(rc, 2, err)

        # group seek: back to the beginning, then to an offset; the next run reads from there.
        rc, out, err = cli(self.bootstrap, "group", "seek", "cli-group", "--to", "beginning")
        self.assertEqual(rc, 0, err)
        rc, out, _ = cli(self.bootstrap, "consume", topic, "-g", "cli-group", "-e", "-p", "3", "-f", "%o\n")
        self.assertEqual(out.splitlines()[0], "0")
        rc, out, err = cli(self.bootstrap, "group", "seek", "cli-group", "--to", "1", "--topic", topic)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len([l for l in out.splitlines()[1:] if l.split()[3] == "1"]), 4)
        # group describe/list and cluster status as JSON: the offsets just set.
        rc, out, err = cli(self.bootstrap, "group", "describe", "cli-group", "--format", "json")
        self.assertEqual(rc, 0, err)
        described = json.loads(out)
        self.assertEqual(described["state"], "Empty")
        self.assertEqual([p["committed_offset"] for p in described["partitions"] if p["topic"] == topic], [1] * 4)
        self.assertTrue(all(p["lag"] == p["log_end_offset"] - 1 for p in described["partitions"]))
        rc, out, err = cli(self.bootstrap, "group", "list", "--format", "json")
        self.assertIn(("cli-group", "Empty"), [(g["group"], g["state"]) for g in json.loads(out)])
        rc, out, err = cli(self.bootstrap, "cluster", "status", "--format", "json")
        self.assertEqual(rc, 0, err)
        status = json.loads(out)
        self.assertEqual(len([p for p in status["partitions"] if p["topic"] == topic]), 4)
        self.assertIn(status["controller_id"], [b["node_id"] for b in status["brokers"]])
        # A group with a member cannot be moved (Kafka: the group must be empty).
        member = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "cli-group",
                           "auto.offset.reset": "earliest"})
        member.subscribe([topic])
        try:
            deadline = time.time() + 30
            while not member.assignment() and time.time() < deadline:
                member.poll(0.2)
            rc, out, err = cli(self.bootstrap, "group", "seek", "cli-group", "--to", "end")
            self.assertEqual(rc, 1, out)
            rc, out, _ = cli(self.bootstrap, "group", "delete", "cli-group")
            self.assertEqual(rc, 1)
            self.assertIn("NON_EMPTY_GROUP", out)
        finally:
            member.close()
        rc, out, err = cli(self.bootstrap, "group", "delete", "cli-group")
        self.assertEqual(rc, 0, out + err)
        rc, out, _ = cli(self.bootstrap, "group", "delete", "cli-group")
        self.assertEqual(rc, 1)
        self.assertIn("GROUP_ID_NOT_FOUND", out)


@unittest.skipUnless(RUNNEL, "RUNNEL_BIN is not set")
class CliSingleNodeTest(CliChecks, unittest.TestCase):
    def setUp(self):
        self.broker = Broker().start()
        self.bootstrap = self.broker.bootstrap

    def tearDown(self):
        self.broker.cleanup()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class CliClusterTest(CliChecks, unittest.TestCase):
    """Leaders spread over three brokers: produce and consume go to each leader."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3, sets={"broker.session.timeout.ms": 3000}).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def setUp(self):
        self.bootstrap = self.cluster.brokers[2].bootstrap


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class CliCoordinatorFailoverTest(unittest.TestCase):
    """A group's coordinator killed -9: the tools ask again until a survivor
    has taken the group over, as Kafka's clients do, instead of failing on
    the dead broker FindCoordinator still names (until its session ends) or
    on a new coordinator still loading."""

    def setUp(self):
        self.cluster = Cluster(3, sets={"broker.session.timeout.ms": 2000}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_consume_with_a_group_right_after_its_coordinator_dies(self):
        c = self.cluster
        first = c.brokers[1].bootstrap
        rc, _, err = cli(first, "topic", "create", "failover", "-p", "1", "-r", "3")
        self.assertEqual(rc, 0, err)

        def leader():
            view = c.view(1, ["failover"])
            parts = view[2].get("failover", (0, {}))[1] if view else {}
            return parts[0][1] if 0 in parts and parts[0][1] >= 0 else None
        topic_leader = wait_for(leader, timeout=15)
        self.assertIsNotNone(topic_leader)
        # A group coordinated by another broker than the topic's leader, so
        # that only the coordinator dies.
        a = admin(first)
        try:
            def coordinated_elsewhere():
                for i in range(40):
                    group = "fo-%d" % i
                    try:
                        node = a._find_coordinator_ids([group])[group]
                    except Exception:  # __consumer_offsets still being created
                        return None
                    if node != topic_leader:
                        return group, node
                return None
            found = wait_for(coordinated_elsewhere, timeout=20)
        finally:
            a.close()
        self.assertTrue(found)
        group, coordinator = found
        rc, _, err = cli(first, "produce", "failover", "-p", "0", stdin="a\nb\nc\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(first, "consume", "failover", "-g", group, "-e", "-f", "%s\\n")
        self.assertEqual((rc, out), (0, "a\nb\nc\n"), err)
        rc, _, err = cli(first, "produce", "failover", "-p", "0", stdin="d\n")
        self.assertEqual(rc, 0, err)

        c.brokers[coordinator].kill9()
        survivor = c.brokers[topic_leader].bootstrap
        rc, out, err = cli(survivor, "consume", "failover", "-g", group, "-e", "-f", "%s\\n")
        self.assertEqual((rc, out), (0, "d\n"), err)
        rc, out, err = cli(survivor, "group", "describe", group, "--format", "json")
        self.assertEqual(rc, 0, err)


def read_terminal(master):
    """Everything written to a pty whose other end is closed."""
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other end is gone
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return data


@unittest.skipUnless(RUNNEL, "RUNNEL_BIN is not set")
class ProgressLineTest(unittest.TestCase):
    """A person who produces from a file or consumes into one sees a progress
    line on the terminal, erased when the command ends; a pipe never sees it."""

    def setUp(self):
        self.broker = Broker().start()
        self.bootstrap = self.broker.bootstrap
        self.assertEqual(cli(self.bootstrap, "topic", "create", "prog", "-p", "1")[0], 0)

    def tearDown(self):
        self.broker.cleanup()

    def start(self, *args, terminal=True):
        master, slave = pty.openpty() if terminal else (None, subprocess.PIPE)
        p = subprocess.Popen([RUNNEL] + list(args) + ["--bootstrap", self.bootstrap], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=slave)
        if terminal:
            os.close(slave)
        return p, master

    def produce_slowly(self, p, chunks=12):
        for i in range(chunks):
            p.stdin.write(b"".join(b"line-%d-%d\n" % (i, j) for j in range(10)))
            p.stdin.flush()
            time.sleep(0.1)
        p.stdin.close()

    def test_produce_and_consume_show_progress_on_a_terminal(self):
        p, master = self.start("produce", "prog")
        self.produce_slowly(p)
        out = p.stdout.read().decode()
        p.stdout.close()
        self.assertEqual(p.wait(30), 0)
        shown = read_terminal(master)
        self.assertEqual(out, "Produced 120 record(s) to prog\n")  # stdout as without a terminal
        self.assertIn(b"produced ", shown)
        self.assertIn(b" records/s", shown)
        self.assertTrue(shown.endswith(b"\r\x1b[K"), shown[-40:])  # erased at the end
        # Consuming into a pipe: 120 records at once, 10 more half a second later.
        c, master = self.start("consume", "prog", "-o", "beginning", "-c", "130")
        time.sleep(0.5)
        rc, _, err = cli(self.bootstrap, "produce", "prog", stdin="\n".join("late-%d" % i for i in range(10)) + "\n")
        self.assertEqual(rc, 0, err)
        lines = c.stdout.read().decode().splitlines()
        c.stdout.close()
        self.assertEqual(c.wait(30), 0)
        shown = read_terminal(master)
        self.assertEqual(len(lines), 130)
        self.assertIn(b"consumed 1", shown)
        self.assertTrue(shown.endswith(b"\r\x1b[K"), shown[-40:])

    def test_no_progress_into_a_pipe(self):
        p, _ = self.start("produce", "prog", terminal=False)
        self.produce_slowly(p, chunks=4)
        out = p.stdout.read().decode()
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        self.assertEqual(p.wait(30), 0)
        self.assertEqual((out, err), ("Produced 40 record(s) to prog\n", b""))


class CompletionTest(unittest.TestCase):
    """`runnel completion bash`, sourced into a real bash: what a <TAB> offers."""

    def complete(self, *words):
        script = subprocess.run([RUNNEL, "completion", "bash"], capture_output=True, text=True, check=True).stdout
        line = "source /dev/stdin; COMP_WORDS=(%s); COMP_CWORD=%d; _runnel_complete; echo \"${COMPREPLY[*]}\"" % (
            " ".join("'%s'" % w for w in ("runnel",) + words), len(words))
        r = subprocess.run(["bash", "-c", line], input=script, capture_output=True, text=True, check=True)
        return r.stdout.split()

    def test_completion(self):
        self.assertEqual(self.complete("top"), ["topic"])
        self.assertEqual(sorted(self.complete("topic", "")),
                         sorted(["list", "describe", "create", "delete", "alter-config", "add-partitions", "--help",
                                 "-h", "--bootstrap", "--command-config", "--format"]))
        self.assertIn("--partitions", self.complete("topic", "create", "t", "--pa"))
        self.assertEqual(self.complete("group", "describe", "g", "--fo"), ["--format"])
        self.assertEqual(sorted(self.complete("produce", "t", "--he")), ["--header", "--help"])
        self.assertEqual(subprocess.run([RUNNEL, "completion", "fish"], capture_output=True).returncode, 2)


if __name__ == "__main__":
    unittest.main()
