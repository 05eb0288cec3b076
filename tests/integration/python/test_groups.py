"""Consumer groups through kafka-python 2.0.2 (and the `runnel group` CLI):
the a/b/c split, two groups, a member killed with SIGKILL, committed offsets
across SIGTERM and kill -9 restarts, auto.offset.reset without commits, and
ListGroups/DescribeGroups/DeleteGroups through KafkaAdminClient.

Members run as separate processes (group_member.py) so that one can be killed.
The broker allows 1 s sessions and starts rebalances at once."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import NonEmptyGroupError
from kafka.structs import OffsetAndMetadata

from helpers import COMMON, BrokerTestCase, admin, consumer, create_topic, producer

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION_MS = 2000


class Member:
    """A group_member.py process; its JSON lines are collected by a thread."""

    def __init__(self, bootstrap, group, topic, session_ms=SESSION_MS, reset="earliest", client_id="py-member",
                 assignor=None):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "group_member.py"), bootstrap, group, topic, "--session-ms",
             str(session_ms), "--reset", reset, "--client-id", client_id]
            + (["--assignor", assignor] if assignor else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lock = threading.Lock()
        self.assigned = None
        self.assign_history = []
        self.records = []
        self.closed = False
        self.err = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            with self.lock:
                if "assigned" in ev:
                    self.assigned = ev["assigned"]
                    self.assign_history.append((time.time(), ev["assigned"]))
                elif "rec" in ev:
                    self.records.append(tuple(ev["rec"]))
                elif "closed" in ev:
                    self.closed = True

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def snapshot(self):
        with self.lock:
            return self.assigned, list(self.records)

    def close(self, timeout=15):
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

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def split_ok(members, partitions):
    """Every member owns at least one partition, none shared, all covered."""
    seen = []
    for m in members:
        a, _ = m.snapshot()
        if not a:
            return False
        seen.extend(a)
    return sorted(seen) == sorted(partitions)


def produce_per_partition(bootstrap, topic, partitions, n, prefix):
    p = producer(bootstrap, acks="all")
    try:
        for i in range(n):
            p.send(topic, value=("%s%d" % (prefix, i)).encode(), partition=partitions[i % len(partitions)])
        p.flush(10)
    finally:
        p.close()


def runnel_cli(*args):
    return subprocess.run([os.environ["RUNNEL_BIN"], "group", *args], capture_output=True, text=True, timeout=30)


class MemberTestCase(BrokerTestCase):
    """A broker with 1 s minimum sessions and no initial rebalance delay, and
    group_member.py processes that are closed after each test."""
    broker_sets = {"num.partitions": 3, "group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000}
    member_session_ms = SESSION_MS

    def setUp(self):
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.close(5)
        self.assertBrokerAlive()

    def member(self, group, topic, **kw):
        kw.setdefault("session_ms", self.member_session_ms)
        m = Member(self.bootstrap, group, topic, **kw)
        self.members.append(m)
        return m


class GroupTests(MemberTestCase):

    def test_abc_each_member_owns_one_partition(self):
        self._abc("py-abc", None)

    def test_abc_with_roundrobin_assignor(self):
        self._abc("py-abc-rr", "roundrobin")

    # No test with kafka-python's StickyPartitionAssignor: in 2.0.2 it crashes
    # in the client on its second JoinGroup (TypeError encoding its user data,
    # kafka/protocol/types.py: len() of a dict_itemiterator), before anything
    # reaches the broker. Sticky assignment is covered by librdkafka's
    # cooperative-sticky (rdkafka_groups_test.cc).

    def _abc(self, topic, assignor):
        create_topic(self.bootstrap, topic, 3)
        ms = [self.member(topic + "-g", topic, client_id=n, assignor=assignor) for n in "abc"]
        wait_until(lambda: split_ok(ms, [0, 1, 2]) and all(len(m.snapshot()[0]) == 1 for m in ms), 30,
                   "a/b/c to own one partition each")
        produce_per_partition(self.bootstrap, topic, [0, 1, 2], 90, "v")
        wait_until(lambda: sum(len(m.snapshot()[1]) for m in ms) >= 90, 20, "90 records")
        time.sleep(0.5)  # anything delivered twice would show up now
        values = []
        for m in ms:
            a, recs = m.snapshot()
            self.assertEqual(len(a), 1)
            self.assertEqual({p for p, _, _ in recs}, set(a), "records only from the owned partition")
            self.assertEqual(len(recs), 30)
            values += [v for _, _, v in recs]
        self.assertEqual(sorted(values), sorted("v%d" % i for i in range(90)), "each record exactly once")

    def test_two_groups_each_read_everything(self):
        create_topic(self.bootstrap, "py-two", 3)
        produce_per_partition(self.bootstrap, "py-two", [0, 1, 2], 30, "t")
        g1 = [self.member("py-two-1", "py-two"), self.member("py-two-1", "py-two")]
        g2 = [self.member("py-two-2", "py-two")]
        for g in (g1, g2):
            wait_until(lambda: sum(len(m.snapshot()[1]) for m in g) >= 30, 30, "30 records in each group")
        time.sleep(0.5)
        for g in (g1, g2):
            vals = sorted(v for m in g for _, _, v in m.snapshot()[1])
            self.assertEqual(vals, sorted("t%d" % i for i in range(30)))

    def test_killed_member_partitions_move_within_session_timeout(self):
        create_topic(self.bootstrap, "py-kill", 3)
        a = self.member("py-kill-g", "py-kill")
        b = self.member("py-kill-g", "py-kill")
        wait_until(lambda: split_ok([a, b], [0, 1, 2]), 30, "a and b to split the partitions")
        b_parts = b.snapshot()[0]
        t0 = time.time()
        b.kill9()
        wait_until(lambda: a.snapshot()[0] == [0, 1, 2], 3 * SESSION_MS / 1000 + 3,
                   "the survivor to own every partition")
        took = time.time() - t0
        # expiry after one session timeout, plus the survivor's next heartbeat and rejoin
        self.assertLess(took, SESSION_MS / 1000 + 2.5, "partitions moved after %.1f s" % took)
        self.assertGreater(took, SESSION_MS / 1000 * 0.5, "moved before the session could expire (%.1f s)" % took)
        n0 = len(a.snapshot()[1])
        produce_per_partition(self.bootstrap, "py-kill", b_parts, 10, "after")
        wait_until(lambda: len(a.snapshot()[1]) >= n0 + 10, 15, "the survivor to read the dead member's partitions")
        got = [v for _, _, v in a.snapshot()[1][n0:]]
        self.assertEqual(sorted(got), sorted("after%d" % i for i in range(10)))

    def _commit_then(self, topic, group, offsets, crash):
        create_topic(self.bootstrap, topic, 3)
        produce_per_partition(self.bootstrap, topic, [0, 1, 2], 60, "r")  # 20 per partition
        c = consumer(self.bootstrap, group_id=group, session_timeout_ms=SESSION_MS, heartbeat_interval_ms=200)
        c.subscribe([topic])
        wait_until(lambda: (c.poll(timeout_ms=100) is not None) and len(c.assignment()) == 3, 20, "assignment")
        c.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "m%d" % p) for p, o in offsets.items()})
        c.close(autocommit=False)
        crash()
        self.broker.restart()
        c = consumer(self.bootstrap, group_id=group, session_timeout_ms=SESSION_MS, heartbeat_interval_ms=200)
        try:
            c.subscribe([topic])
            first = {}
            deadline = time.time() + 30
            while len(first) < 3 and time.time() < deadline:
                for tp, recs in c.poll(timeout_ms=200).items():
                    first.setdefault(tp.partition, recs[0].offset)
            self.assertEqual(first, offsets, "resumes exactly at the committed offsets")
            for p, o in offsets.items():  # the commit's metadata too (Kafka keeps it)
                self.assertEqual(c.committed(TopicPartition(topic, p), metadata=True), OffsetAndMetadata(o, "m%d" % p))
        finally:
            c.close(autocommit=False)

    def test_commits_survive_sigterm_restart(self):
        def stop():
            self.assertEqual(self.broker.stop(), 0)
        self._commit_then("py-commit-term", "py-commit-term-g", {0: 3, 1: 11, 2: 19}, stop)

    def test_commits_survive_kill9(self):
        self._commit_then("py-commit-k9", "py-commit-k9-g", {0: 7, 1: 1, 2: 15}, self.broker.kill9)

    def test_auto_offset_reset_without_commits(self):
        create_topic(self.bootstrap, "py-reset", 3)
        produce_per_partition(self.bootstrap, "py-reset", [0, 1, 2], 30, "old")
        early = self.member("py-reset-early", "py-reset", reset="earliest")
        late = self.member("py-reset-late", "py-reset", reset="latest")
        wait_until(lambda: late.snapshot()[0] == [0, 1, 2], 30, "the latest member's assignment")
        wait_until(lambda: len(early.snapshot()[1]) >= 30, 20, "earliest: the old records")
        time.sleep(1.0)  # the latest member has resolved its positions
        produce_per_partition(self.bootstrap, "py-reset", [0, 1, 2], 6, "new")
        wait_until(lambda: len(late.snapshot()[1]) >= 6 and len(early.snapshot()[1]) >= 36, 20, "the new records")
        time.sleep(0.5)
        self.assertEqual(sorted(v for _, _, v in late.snapshot()[1]), sorted("new%d" % i for i in range(6)))
        self.assertEqual(len(early.snapshot()[1]), 36)

    def test_admin_list_describe_delete(self):
        create_topic(self.bootstrap, "py-admin", 3)
        produce_per_partition(self.bootstrap, "py-admin", [0, 1, 2], 9, "x")
        ms = [self.member("py-admin-g", "py-admin", client_id="adm-%d" % i) for i in range(2)]
        wait_until(lambda: split_ok(ms, [0, 1, 2]), 30, "the group to settle")
        wait_until(lambda: sum(len(m.snapshot()[1]) for m in ms) >= 9, 20, "9 records")
        a = admin(self.bootstrap)
        try:
            groups = dict(a.list_consumer_groups())
            self.assertEqual(groups.get("py-admin-g"), "consumer")
            (info,) = a.describe_consumer_groups(["py-admin-g"])
            self.assertEqual(info.error_code, 0)
            self.assertEqual(info.state, "Stable")
            self.assertEqual(info.protocol_type, "consumer")
            self.assertIn(info.protocol, ("range", "roundrobin"))
            self.assertEqual(sorted(m.client_id for m in info.members), ["adm-0", "adm-1"])
            parts = sorted(p for m in info.members for t in m.member_assignment.assignment for p in t[1])
            self.assertEqual(parts, [0, 1, 2])
            wait_until(lambda: len(a.list_consumer_group_offsets("py-admin-g")) == 3, 10, "3 committed offsets")
            offs = a.list_consumer_group_offsets("py-admin-g")
            self.assertEqual({tp.partition: om.offset for tp, om in offs.items()}, {0: 3, 1: 3, 2: 3})
            # an active group cannot be deleted
            (res,) = a.delete_consumer_groups(["py-admin-g"])
            self.assertEqual(res[0], "py-admin-g")
            self.assertIs(res[1], NonEmptyGroupError)
            for m in ms:
                m.close()
            (res,) = a.delete_consumer_groups(["py-admin-g"])
            self.assertEqual(res[1].errno, 0, "delete after every member left: %r" % (res[1],))
            self.assertNotIn("py-admin-g", dict(a.list_consumer_groups()))
            self.assertEqual(a.list_consumer_group_offsets("py-admin-g"), {})
            (info,) = a.describe_consumer_groups(["py-admin-g"])
            self.assertEqual(info.state, "Dead")
        finally:
            a.close()

    def test_runnel_group_cli(self):
        create_topic(self.bootstrap, "py-cli", 3)
        produce_per_partition(self.bootstrap, "py-cli", [0, 1, 2], 15, "c")  # 5 per partition
        ms = [self.member("py-cli-g", "py-cli", client_id="cli-%d" % i) for i in range(2)]
        wait_until(lambda: split_ok(ms, [0, 1, 2]), 30, "the group to settle")
        wait_until(lambda: sum(len(m.snapshot()[1]) for m in ms) >= 15, 20, "15 records")
        time.sleep(0.5)  # last commits
        r = runnel_cli("list", "--bootstrap", self.bootstrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l.split() for l in r.stdout.splitlines()]
        self.assertEqual(lines[0], ["GROUP", "STATE", "PROTOCOL-TYPE"])
        self.assertIn(["py-cli-g", "Stable", "consumer"], lines[1:])

        r = runnel_cli("describe", "py-cli-g", "--bootstrap", self.bootstrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.splitlines()
        self.assertIn("STATE Stable", out[0])
        hdr = out.index(next(l for l in out if l.startswith("GROUP ") and "TOPIC" in l))
        self.assertEqual(out[hdr].split(), ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                            "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID"])
        rows = [l.split() for l in out[hdr + 1:] if l.strip()]
        self.assertEqual(len(rows), 3, out)
        a = admin(self.bootstrap)
        try:
            (info,) = a.describe_consumer_groups(["py-cli-g"])
        finally:
            a.close()
        owner = {}
        for m in info.members:
            for t, ps in m.member_assignment.assignment:
                for p in ps:
                    owner[p] = (m.member_id, m.client_id)
        for row in rows:
            g, t, p, cur, end, lag, mid, instance, host, cid = row
            self.assertEqual((g, t), ("py-cli-g", "py-cli"))
            self.assertEqual((cur, end, lag), ("5", "5", "0"), row)
            self.assertEqual((mid, cid), owner[int(p)], row)
            self.assertEqual(instance, "-", "a dynamic member has no group.instance.id")
            self.assertIn("127.0.0.1", host)
        self.assertEqual(sorted(int(r[2]) for r in rows), [0, 1, 2])

        # lag: a group that committed behind the end, without members
        produce_per_partition(self.bootstrap, "py-cli", [1], 4, "more")
        c = consumer(self.bootstrap, group_id="py-cli-lag", session_timeout_ms=SESSION_MS, heartbeat_interval_ms=200)
        c.assign([TopicPartition("py-cli", 1)])
        c.commit({TopicPartition("py-cli", 1): OffsetAndMetadata(2, "")})
        c.close(autocommit=False)
        r = runnel_cli("describe", "py-cli-lag", "--bootstrap", self.bootstrap)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("STATE Empty", r.stdout.splitlines()[0])
        self.assertIn("has no active members", r.stdout)
        rows = [l.split() for l in r.stdout.splitlines() if l.startswith("py-cli-lag ")]
        self.assertEqual(rows, [["py-cli-lag", "py-cli", "1", "2", "9", "7", "-", "-", "-", "-"]])

        r = runnel_cli("describe", "no-such-group", "--bootstrap", self.bootstrap)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)


if __name__ == "__main__":
    unittest.main()
