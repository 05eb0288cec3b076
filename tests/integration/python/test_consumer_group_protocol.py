"""A real client of the next-generation consumer group protocol (KIP-848):
librdkafka 2.12.0 (built from source by tests/integration/current_librdkafka.sh,
loaded into Debian's python3-confluent-kafka) with group.protocol=consumer.
Three members of a group on a three-partition topic get one partition each;
every record is consumed exactly once while a member leaves and another joins;
offsets are committed, and a new member resumes from them.

Skipped, with the reason, when the current librdkafka cannot be built here."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

import kproto
from helpers import BrokerTestCase, create_topic, producer

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
WANT_VERSION = "2.12.0"


def current_librdkafka():
    """(path of librdkafka.so.1, None) or (None, why not)."""
    path = os.environ.get("RUNNEL_CURRENT_LIBRDKAFKA")
    if path:
        return path, None
    if os.environ.get("RUNNEL_CURRENT_LIBRDKAFKA_ERROR"):
        return None, os.environ["RUNNEL_CURRENT_LIBRDKAFKA_ERROR"]
    build_dir = os.path.dirname(os.path.abspath(os.environ.get("RUNNEL_BIN", "build/runnel")))
    script = os.path.join(HERE, "..", "current_librdkafka.sh")
    p = subprocess.run(["bash", script, build_dir], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0 or not p.stdout.strip():
        return None, "current librdkafka unavailable: " + (p.stderr.strip().splitlines() or ["?"])[-1]
    return p.stdout.strip().splitlines()[-1], None


class Member:
    """A kip848_member.py process and what it reported."""

    def __init__(self, lib, bootstrap, group, topic, name, protocol="consumer"):
        """protocol "classic": a classic-protocol member on Debian's own
        librdkafka (lib is not loaded then)."""
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        if protocol == "consumer":
            env["LD_LIBRARY_PATH"] = os.path.dirname(lib)
        else:
            env.pop("LD_LIBRARY_PATH", None)
        self.name = name
        self.protocol = protocol
        self.events = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([PY, os.path.join(HERE, "kip848_member.py"), bootstrap, group, topic, name,
                                      protocol],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                e = dict(event="output", line=line.rstrip())
            with self.lock:
                self.events.append(e)

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e["event"] == kind]

    def owned(self):
        """The partitions it holds now (assigned minus revoked, in order)."""
        out = set()
        with self.lock:
            for e in self.events:
                if e["event"] == "assigned":
                    out |= set(e["partitions"])
                elif e["event"] == "revoked":
                    out -= set(e["partitions"])
        return out

    def records(self):
        return [(e["partition"], e["offset"], e["value"]) for e in self.of("record")]

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()

    def transcript(self):
        with self.lock:
            return "\n".join(json.dumps(e) for e in self.events if e["event"] != "record")


class ConsumerGroupProtocolTest(BrokerTestCase):
    # A short heartbeat interval: reconciliation takes a few heartbeats.
    broker_sets = {"num.partitions": 3, "group.consumer.heartbeat.interval.ms": 500,
                   "group.consumer.session.timeout.ms": 10000,
                   # Kafka's bounds for the two (45 s, 5 s by default) let them be this short.
                   "group.consumer.min.session.timeout.ms": 1000, "group.consumer.min.heartbeat.interval.ms": 100}

    @classmethod
    def setUpClass(cls):
        cls.lib, why = current_librdkafka()
        if not cls.lib:
            raise unittest.SkipTest(why)
        super().setUpClass()

    def setUp(self):
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.stop()
        self.assertBrokerAlive()

    def start(self, name, group, topic):
        m = Member(self.lib, self.bootstrap, group, topic, name)
        self.members.append(m)
        return m

    def wait(self, what, cond, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.2)
        self.fail("timed out waiting for %s\n%s" % (what, "\n".join(
            "--- %s\n%s" % (m.name, m.transcript()) for m in self.members)))

    def produce(self, topic, start, count):
        p = producer(self.bootstrap)
        try:
            for partition in range(3):
                for i in range(start, start + count):
                    p.send(topic, value=("%d-%d" % (partition, i)).encode(), partition=partition)
            p.flush(10)
        finally:
            p.close()

    def describe(self, group):
        return kproto.parse_consumer_group_describe(
            kproto.round_trip(self.broker.port, kproto.consumer_group_describe(1, [group])))[0]

    def test_members_share_partitions_consume_exactly_once_and_resume_from_commits(self):
        topic, group, n = "kip848-orders", "kip848-app", 40
        create_topic(self.bootstrap, topic, 3)
        self.produce(topic, 0, n)
        a, b, c = (self.start(x, group, topic) for x in "abc")
        self.wait("the lib version", lambda: all(m.of("lib") for m in (a, b, c)), 20)
        self.assertEqual(a.of("lib")[0]["version"], WANT_VERSION, "not the current librdkafka")

        everyone = lambda: [m for m in self.members]
        consumed = lambda: [r for m in everyone() for r in m.records()]
        one_each = lambda ms: (all(len(m.owned()) == 1 for m in ms) and
                               set().union(*(m.owned() for m in ms)) == {0, 1, 2})
        self.wait("one partition each", lambda: one_each([a, b, c]))
        self.wait("the first records", lambda: len(consumed()) >= 3 * n)
        g = self.describe(group)
        self.assertEqual((g["error"], g["state"], len(g["members"])), (0, "Stable", 3), g)
        for m in g["members"]:
            self.assertEqual(sum(len(p) for p in m["assignment"].values()), 1, m)
            self.assertEqual((m["epoch"], m["type"]), (g["epoch"], 1), m)

        # c leaves: a and b take its partition over.
        c.stop()
        self.assertTrue(c.of("closed"), c.transcript())
        self.produce(topic, n, n)
        self.wait("a and b owning everything",
                  lambda: set().union(a.owned(), b.owned()) == {0, 1, 2} and len(self.describe(group)["members"]) == 2)
        self.wait("the records after c left", lambda: len(consumed()) >= 6 * n)

        # d joins: it gets one of them.
        d = self.start("d", group, topic)
        self.wait("d's partition", lambda: one_each([a, b, d]))
        self.produce(topic, 2 * n, n)
        self.wait("the records after d joined", lambda: len(consumed()) >= 9 * n)
        time.sleep(1)  # nothing more arrives
        records = consumed()
        keys = [(p, o) for p, o, _ in records]
        self.assertEqual(len(keys), len(set(keys)), "some records were consumed twice")
        self.assertEqual(sorted(keys), sorted((p, o) for p in range(3) for o in range(3 * n)))
        for p, o, v in records:
            self.assertEqual(v, "%d-%d" % (p, o))

        # Everyone leaves; the committed offsets are at the end of each partition.
        for m in (a, b, d):
            m.stop()
        for p in range(3):
            err, perr, offset = kproto.parse_offset_fetch_v9(kproto.round_trip(
                self.broker.port, kproto.offset_fetch_v9(1, group, topic, p)))
            self.assertEqual((err, perr, offset), (0, 0, 3 * n), "partition %d" % p)
        self.assertEqual(self.describe(group)["state"], "Empty")

        # A new member resumes from the committed offsets.
        self.produce(topic, 3 * n, 5)
        e = self.start("e", group, topic)
        self.wait("e's records", lambda: len(e.records()) >= 15)
        time.sleep(1)
        self.assertEqual(sorted((p, o) for p, o, _ in e.records()),
                         sorted((p, o) for p in range(3) for o in range(3 * n, 3 * n + 5)))


if __name__ == "__main__":
    unittest.main()
