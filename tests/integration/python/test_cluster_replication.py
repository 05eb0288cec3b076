"""Replication: partitions with three replicas on three brokers. Followers
copy the leader's batches byte for byte, the ISR holds every replica that
keeps up, acks=all answers once the whole ISR has the batch on disk, and a
leader killed with SIGKILL is replaced by an in-sync follower that has every
acknowledged record. Committed group offsets survive the coordinator's
SIGKILL; a leader paused (SIGSTOP) past its lease acknowledges nothing
meanwhile, and when resumed follows the new leader, truncating what it took
alone."""
import glob
import os
import struct
import threading
import time
import unittest

from kafka import TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError

import etcd
import kproto
from cluster import Cluster, epochs, wait_for
from broker import free_port, metric
from helpers import admin, consumer, producer

FAST = {"broker.session.timeout.ms": 2000, "replica.lag.time.max.ms": 1500}


def states(view, topic):
    """{partition: (error, leader, replicas, isr)} of one topic in a Metadata view."""
    if not view or topic not in view[2]:
        return {}
    return view[2][topic][1]


def read_all(bootstrap, topic, partitions, expect, timeout=30):
    """Every record of the topic as {(partition, offset): value}, once `expect` of them are there."""
    cons = consumer(bootstrap)
    cons.assign([TopicPartition(topic, p) for p in range(partitions)])
    got = {}
    deadline = time.time() + timeout
    try:
        while len(got) < expect and time.time() < deadline:
            for tp, recs in cons.poll(timeout_ms=500).items():
                for r in recs:
                    got[(tp.partition, r.offset)] = r.value
    finally:
        cons.close()
    return got


def segment_bytes(data_dir, topic, partition):
    out = b""
    for path in sorted(glob.glob(os.path.join(data_dir, "%s-%d" % (topic, partition), "*.log"))):
        with open(path, "rb") as f:
            out += f.read()
    return out


def create_replicated(test, c, name, partitions, rf, configs=None):
    """Creates a topic and waits until broker 1 sees every partition led with `rf` replicas
    in sync (a failed assertion of `test` if not); returns its states."""
    a = admin(c.brokers[1].bootstrap)
    try:
        a.create_topics([NewTopic(name, partitions, rf, topic_configs=configs or {})])
    finally:
        a.close()
    full = wait_for(lambda: len(states(c.view(1, [name]), name)) == partitions and all(
        len(isr) == rf and leader >= 0 for _, leader, _, isr in states(c.view(1, [name]), name).values())
        and states(c.view(1, [name]), name))
    test.assertTrue(full, states(c.view(1, [name]), name))
    return full


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterReplicationTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets=FAST).start()

    def tearDown(self):
        self.cluster.cleanup()

    def create(self, name, partitions, rf, configs=None):
        return create_replicated(self, self.cluster, name, partitions, rf, configs)

    def test_followers_hold_the_leaders_bytes(self):
        c = self.cluster
        self.create("copies", 3, 3)
        prod = producer(c.bootstrap, acks="all")
        acked = [prod.send("copies", key=b"k%d" % i, value=b"v%d" % i).get(timeout=20) for i in range(300)]
        prod.close()
        got = read_all(c.bootstrap, "copies", 3, len(acked))
        self.assertEqual(sorted(got), sorted((m.partition, m.offset) for m in acked))

        def identical():
            for p in range(3):
                logs = [segment_bytes(b.data_dir, "copies", p) for b in c.brokers.values()]
                if not logs[0] or any(l != logs[0] for l in logs):
                    return False
            return True
        self.assertTrue(wait_for(identical, timeout=15), "the replicas' logs differ")

    def test_a_restarted_leader_leads_on_only_in_a_new_epoch(self):
        # Every broker killed and started again at once: whoever comes back first
        # is the controller and sees the others' leaderships as live again. A
        # leader that restarted may lack what it wrote (unsynced, after a power
        # cut) while its followers kept it; leading on in the same epoch it
        # would write other records at those offsets, unseen by the followers.
        # So each leadership gets a new epoch before its leader serves again.
        c = self.cluster
        self.create("restarted", 3, 3)
        prod = producer(c.bootstrap, acks="all")
        acked = [prod.send("restarted", value=b"before-%d" % i, partition=i % 3).get(timeout=20) for i in range(30)]
        prod.close()
        before = epochs(c.brokers[1].bootstrap, "restarted")
        for b in c.brokers.values():
            b.kill9()
        for b in c.brokers.values():
            b.restart()
        led = lambda: all(s[1] > 0 for s in states(c.view(1, ["restarted"]), "restarted").values())
        self.assertTrue(wait_for(led, timeout=30), states(c.view(1, ["restarted"]), "restarted"))
        after = wait_for(lambda: (lambda e: len(e) == 3 and all(e[p] > before[p] for p in e) and e)(
            epochs(c.brokers[1].bootstrap, "restarted")), timeout=30)
        self.assertTrue(after, (before, epochs(c.brokers[1].bootstrap, "restarted")))
        prod = producer(c.bootstrap, acks="all", retries=10, retry_backoff_ms=200)
        acked += [prod.send("restarted", value=b"after-%d" % i, partition=i % 3).get(timeout=30) for i in range(30)]
        prod.close()
        got = read_all(c.bootstrap, "restarted", 3, len(acked))
        self.assertEqual(sorted(got), sorted((m.partition, m.offset) for m in acked))
        logs = lambda p: [segment_bytes(b.data_dir, "restarted", p) for b in c.brokers.values()]
        self.assertTrue(wait_for(lambda: all(len(set(logs(p))) == 1 for p in range(3)), timeout=15))

    def test_acknowledged_records_survive_the_leaders_sigkill(self):
        c = self.cluster
        placed = self.create("ledger", 2, 3, {"min.insync.replicas": "2"})
        prod = producer(c.bootstrap, acks="all", retries=5, retry_backoff_ms=200)
        acked = [prod.send("ledger", value=b"before-%d" % i, partition=i % 2).get(timeout=20) for i in range(100)]
        victim = placed[0][1]
        c.brokers[victim].kill9()
        others = [n for n in c.brokers if n != victim]
        moved = wait_for(lambda: all(
            s[1] not in (victim, -1) for s in states(c.view(others[0], ["ledger"]), "ledger").values()))
        self.assertTrue(moved, states(c.view(others[0], ["ledger"]), "ledger"))
        for i in range(100):
            acked.append(prod.send("ledger", value=b"after-%d" % i, partition=i % 2).get(timeout=30))
        prod.close()
        got = read_all(",".join(c.brokers[n].bootstrap for n in others), "ledger", 2, len(acked))
        for m in acked:
            self.assertIn((m.partition, m.offset), got)
        values = set(got.values())
        for i in range(100):
            self.assertIn(b"before-%d" % i, values)
            self.assertIn(b"after-%d" % i, values)

        # The victim comes back as a follower, catches up and rejoins the ISR.
        c.brokers[victim].restart()
        self.assertTrue(wait_for(lambda: all(
            victim in s[3] for s in states(c.view(others[0], ["ledger"]), "ledger").values())),
            states(c.view(others[0], ["ledger"]), "ledger"))

    def test_a_follower_behind_the_leaders_log_start_starts_over_there(self):
        # Away while DeleteRecords moved the leader's log start past its end,
        # a follower starts over, empty, at that start and rejoins the ISR.
        c = self.cluster
        placed = self.create("behind", 1, 3, {"min.insync.replicas": "2", "segment.bytes": "1024"})
        _, leader, replicas, _ = placed[0]
        follower = [n for n in replicas if n != leader][0]
        prod = producer(c.brokers[leader].bootstrap, acks="all")
        for i in range(10):
            prod.send("behind", value=b"early-%d" % i, partition=0).get(timeout=20)
        c.brokers[follower].kill9()
        for i in range(60):
            prod.send("behind", value=b"late-%d" % i, partition=0).get(timeout=20)
        error, low = kproto.delete_records(c.brokers[leader].port, "behind", 0, 50)
        self.assertEqual((error, low), (0, 50))
        prod.send("behind", value=b"last", partition=0).get(timeout=20)
        prod.close()
        c.brokers[follower].restart()
        rejoined = wait_for(lambda: follower in states(c.view(leader, ["behind"]), "behind")[0][3])
        self.assertTrue(rejoined, states(c.view(leader, ["behind"]), "behind"))
        part = os.path.join(c.brokers[follower].data_dir, "behind-0")
        with open(os.path.join(part, "log-start-offset"), "rb") as f:  # storage/checkpoint.h
            self.assertEqual(struct.unpack(">q", f.read()[6:14])[0], 50)
        self.assertTrue(wait_for(lambda: b"last" in segment_bytes(c.brokers[follower].data_dir, "behind", 0)))
        self.assertFalse(glob.glob(os.path.join(part, "%020d.log" % 0)), "the old segments were kept")

    def test_min_insync_replicas(self):
        c = self.cluster
        placed = self.create("guarded", 1, 2, {"min.insync.replicas": "2"})
        _, leader, replicas, _ = placed[0]
        follower = [n for n in replicas if n != leader][0]
        c.brokers[follower].kill9()
        shrunk = wait_for(lambda: states(c.view(leader, ["guarded"]), "guarded")[0][3] == [leader])
        self.assertTrue(shrunk, states(c.view(leader, ["guarded"]), "guarded"))
        prod = producer(c.brokers[leader].bootstrap, acks="all", retries=0)
        with self.assertRaises(KafkaError) as caught:
            prod.send("guarded", value=b"x", partition=0).get(timeout=20)
        self.assertIn("NotEnoughReplicas", type(caught.exception).__name__)
        prod.close()
        one = producer(c.brokers[leader].bootstrap, acks=1)
        one.send("guarded", value=b"y", partition=0).get(timeout=20)
        one.close()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterFaultsTest(unittest.TestCase):
    """The coordinator's death and a leader paused past its lease."""

    def setUp(self):
        sets = dict(FAST)
        sets["offsets.topic.num.partitions"] = 3
        sets["leader.imbalance.check.interval.seconds"] = 1
        self.cluster = Cluster(3, sets=sets).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_committed_offsets_survive_the_coordinators_sigkill(self):
        c = self.cluster
        ClusterReplicationTest.create(self, "work", 3, 3)
        prod = producer(c.bootstrap, acks="all")
        for i in range(30):
            prod.send("work", value=b"w%d" % i, partition=i % 3).get(timeout=20)
        prod.close()
        cons = consumer(c.bootstrap, group_id="keepers", enable_auto_commit=False, request_timeout_ms=30000)
        cons.subscribe(["work"])
        seen = 0
        deadline = time.time() + 30
        while seen < 30 and time.time() < deadline:
            seen += sum(len(r) for r in cons.poll(timeout_ms=500).values())
        self.assertEqual(seen, 30)
        cons.commit()
        cons.close()

        a = admin(c.bootstrap)
        coordinator = a._find_coordinator_ids(["keepers"])["keepers"]
        a.close()
        others = [n for n in c.brokers if n != coordinator]
        # Through the failover, OffsetFetch asked of the survivors without
        # pause: each answer is the commit or a coordinator error the clients
        # retry, never "no offset" (the new leader, between etcd naming it and
        # its replay of the partition, once answered from an empty group, and
        # a consumer starting then went to auto.offset.reset): this caught
        # that in three runs of three.
        answers = {}
        stop = threading.Event()

        def hammer(n):
            cid = 0
            while not stop.is_set():
                try:
                    conn = kproto.Conn(c.brokers[n].port)
                    try:
                        while not stop.is_set():
                            cid += 1
                            conn.send(kproto.offset_fetch_v1(cid, "keepers", "work", 0))
                            answer = kproto.parse_offset_fetch_v1(conn.recv_frame())
                            answers[answer] = answers.get(answer, 0) + 1
                    finally:
                        conn.s.close()
                except (OSError, ValueError):
                    time.sleep(0.01)
        hammers = [threading.Thread(target=hammer, args=(n,)) for n in others]
        for t in hammers:
            t.start()
        c.brokers[coordinator].kill9()

        probes = []  # (seconds since the kill, what the probe saw), for the failure message
        killed_at = time.time()

        def committed():
            probe = consumer(",".join(c.brokers[n].bootstrap for n in others), group_id="keepers",
                             enable_auto_commit=False, request_timeout_ms=30000)
            try:
                seen = {p: probe.committed(TopicPartition("work", p)) for p in range(3)}
            except KafkaError as e:
                seen = repr(e)
            finally:
                probe.close()
            if not probes or probes[-1][1] != seen:
                probes.append((round(time.time() - killed_at, 1), seen))
            return seen if isinstance(seen, dict) else None
        result = wait_for(lambda: committed() == {0: 10, 1: 10, 2: 10} and committed(), timeout=30)
        time.sleep(1)
        stop.set()
        for t in hammers:
            t.join()
        self.assertEqual({a for a in answers if a != (10, 0) and a[1] not in kproto.COORDINATOR_ERRORS}, set(),
                         "OffsetFetch answers through the failover: %r" % answers)
        if result != {0: 10, 1: 10, 2: 10}:
            offsets = "__consumer_offsets"
            views = {n: states(c.view(n, [offsets]), offsets) for n in others}
            logs = {n: [line for line in c.brokers[n].log().splitlines() if offsets in line or "keepers" in line]
                    for n in others}
            self.fail("committed offsets after killing coordinator %d: %r\n%s: %r\n%s" % (
                coordinator, probes, offsets, views,
                "\n".join("broker %d:\n  %s" % (n, "\n  ".join(lines[-40:])) for n, lines in logs.items())))

    def test_a_restarted_follower_lists_no_group_it_does_not_coordinate(self):
        # ListGroups answers with the groups a broker coordinates, as Kafka's.
        # A broker restarting with a follower replica of a group's offsets
        # partition once replayed it at start-up and listed the group, in the
        # state it had then, though another broker coordinates it.
        c = self.cluster
        ClusterReplicationTest.create(self, "listed-work", 1, 3)
        cons = consumer(c.bootstrap, group_id="listed", enable_auto_commit=False, request_timeout_ms=30000)
        cons.subscribe(["listed-work"])
        self.assertTrue(wait_for(lambda: cons.poll(timeout_ms=200) is not None and cons.assignment(), timeout=30))
        cons.commit()
        cons.close()
        a = admin(c.bootstrap)
        coordinator = a._find_coordinator_ids(["listed"])["listed"]
        a.close()
        part = kproto.offsets_partition_for("listed", 3)
        offsets = "__consumer_offsets"
        _, leader, replicas, _ = states(c.view(coordinator, [offsets]), offsets)[part]
        # Neither its leader nor its preferred replica, so it cannot take the
        # partition over when it comes back.
        victim = next(n for n in c.brokers if n != leader and n != replicas[0])
        c.brokers[victim].stop()
        c.brokers[victim].restart()

        def back_in_sync():
            st = states(c.view(victim, [offsets]), offsets).get(part)
            return st is not None and st[1] == leader and sorted(st[3]) == sorted(st[2])
        self.assertTrue(wait_for(back_in_sync, timeout=30))

        def listed(node):
            a = admin(c.brokers[node].bootstrap)
            try:
                return sorted(g[0] for g in a.list_consumer_groups(broker_ids=[node]))
            finally:
                a.close()
        self.assertEqual(listed(leader), ["listed"])
        self.assertEqual(listed(victim), [])

    def test_a_coordinator_that_loses_its_partition_answers_waiting_members(self):
        # Members waiting in JoinGroup on a coordinator that stops leading the
        # group's __consumer_offsets partition (here: leadership returns to
        # the preferred replica) get NOT_COORDINATOR at once, and go to the
        # new coordinator; the old one keeps nothing of the group.
        c = self.cluster
        group = "movers"
        part = kproto.offsets_partition_for(group, 3)
        offsets = "__consumer_offsets"

        def state(node):
            return states(c.view(node, [offsets]), offsets).get(part)
        a = admin(c.bootstrap)
        a._find_coordinator_ids([group])  # creates __consumer_offsets
        a.close()
        self.assertTrue(wait_for(lambda: state(1) and state(1)[1] == state(1)[2][0] and len(state(1)[3]) == 3,
                                 timeout=30), state(1))
        preferred = state(1)[1]
        c.brokers[preferred].kill9()
        others = [n for n in c.brokers if n != preferred]
        self.assertTrue(wait_for(lambda: state(others[0]) and state(others[0])[1] in others, timeout=30))
        coordinator = state(others[0])[1]
        port = c.brokers[coordinator].port

        first = kproto.Conn(port, timeout=30)
        first.send(kproto.join_group_v1(1, group))
        error, generation, _ = kproto.parse_join_group_v1(first.recv_frame())
        self.assertEqual((error, generation), (0, 1))
        # A second member's join waits for the first to rejoin (up to 60 s).
        second = kproto.Conn(port, timeout=90)
        second.send(kproto.join_group_v1(2, group))
        time.sleep(1)
        c.brokers[preferred].restart()
        answer = kproto.parse_join_group_v1(second.recv_frame())
        self.assertEqual(answer[0], 16, "JoinGroup answered %r, not NOT_COORDINATOR" % (answer,))
        # Because leadership went back to the preferred replica; others[0] may
        # learn that from etcd a moment after the coordinator did.
        self.assertTrue(wait_for(lambda: state(others[0]) and state(others[0])[1] == preferred, timeout=10),
                        state(others[0]))
        first.close()
        second.close()

    def test_an_isr_below_min_insync_answers_a_waiting_produce_at_once(self):
        # As Kafka's DelayedProduce: an acks=all append waiting for its
        # followers is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND as soon as
        # the ISR shrinks below min.insync.replicas, not at its timeout (a
        # client whose own request timeout fires first counts the batch as
        # possibly written; librdkafka 2.0.2 may then resend it under a new
        # idempotent epoch, a duplicate).
        import signal
        c = self.cluster
        placed = ClusterReplicationTest.create(self, "shrinking", 1, 3, {"min.insync.replicas": "2"})
        leader = placed[0][1]
        followers = [n for n in c.brokers if n != leader]
        conn = kproto.Conn(c.brokers[leader].port, timeout=60)

        def first_acknowledged():
            # The leader may learn of its leadership a moment after broker 1
            # showed it (NOT_LEADER_OR_FOLLOWER until then).
            conn.send(kproto.produce(1, "shrinking", 0, kproto.record_batch([(None, b"first")]), timeout_ms=30000))
            error = kproto.parse_produce_v8(conn.recv_frame())[1][0]["error"]
            self.assertIn(error, (0, 6))
            return error == 0
        self.assertTrue(wait_for(first_acknowledged, timeout=10))
        for n in followers:
            c.brokers[n].signal(signal.SIGSTOP)
        try:
            start = time.time()
            conn.send(kproto.produce(2, "shrinking", 0, kproto.record_batch([(None, b"waiting")]), timeout_ms=30000))
            _, parts = kproto.parse_produce_v8(conn.recv_frame())
            waited = time.time() - start
        finally:
            for n in followers:
                c.brokers[n].signal(signal.SIGCONT)
            conn.close()
        if parts[0]["error"] != 20:  # NOT_ENOUGH_REPLICAS_AFTER_APPEND
            def about_it(n):
                return "\n".join(l for l in c.brokers[n].log().splitlines() if "shrinking" in l or "ISR" in l)
            self.fail("answered %r after %.2f s; leader %d's log:\n%s\nthe followers':\n%s" % (
                parts, waited, leader, about_it(leader), "\n".join(about_it(n) for n in followers)))
        self.assertLess(waited, 20, "answered at the request's 30 s timeout, not when the ISR shrank")

    def test_a_paused_leader_steps_down_and_loses_no_acknowledged_record(self):
        import signal
        c = self.cluster
        placed = ClusterReplicationTest.create(self, "paused", 1, 3, {"min.insync.replicas": "2"})
        leader = placed[0][1]
        # A request stuck on the paused broker is given up after 5 s and retried on the new leader.
        prod = producer(c.bootstrap, acks="all", retries=20, retry_backoff_ms=200, request_timeout_ms=5000)
        acked = [prod.send("paused", value=b"a%d" % i, partition=0).get(timeout=20) for i in range(50)]
        # Straight to the leader, so that writes reach it while it is paused.
        stuck = producer(c.brokers[leader].bootstrap, acks="all", retries=0, request_timeout_ms=20000)
        acked.append(stuck.send("paused", value=b"before-pause", partition=0).get(timeout=20))  # metadata loaded
        c.brokers[leader].signal(signal.SIGSTOP)
        pending = [stuck.send("paused", value=b"stuck%d" % i, partition=0) for i in range(5)]
        others = [n for n in c.brokers if n != leader]
        moved = wait_for(lambda: states(c.view(others[0], ["paused"]), "paused").get(0, (0, leader))[1]
                         not in (leader, -1), timeout=30)
        self.assertTrue(moved)
        for i in range(50):
            # kafka-python expires a batch that waited request_timeout_ms for
            # the paused leader; sent again, it reaches the new one.
            deadline = time.time() + 60
            while True:
                try:
                    acked.append(prod.send("paused", value=b"b%d" % i, partition=0).get(timeout=30))
                    break
                except KafkaError:
                    if time.time() > deadline:
                        raise
        c.brokers[leader].signal(signal.SIGCONT)
        for f in pending:
            try:
                acked.append(f.get(timeout=30))
            except KafkaError:
                pass  # not acknowledged: may be gone
        stuck.close()
        prod.close()
        # It follows the new leader and rejoins the ISR.
        self.assertTrue(wait_for(lambda: leader in states(c.view(others[0], ["paused"]), "paused")[0][3],
                                 timeout=30), states(c.view(others[0], ["paused"]), "paused"))
        got = read_all(",".join(c.brokers[n].bootstrap for n in others), "paused", 1, len(acked))
        for m in acked:
            self.assertIn((m.partition, m.offset), got)
        # The replicas agree byte for byte.
        def identical():
            logs = [segment_bytes(b.data_dir, "paused", 0) for b in c.brokers.values()]
            return all(l == logs[0] for l in logs)
        self.assertTrue(wait_for(identical, timeout=15), "the replicas' logs differ")

    def test_leadership_returns_to_the_preferred_replica(self):
        c = self.cluster
        placed = ClusterReplicationTest.create(self, "preferred", 1, 3)
        _, leader, replicas, _ = placed[0]
        self.assertEqual(leader, replicas[0])
        c.brokers[leader].kill9()
        other = [n for n in c.brokers if n != leader][0]
        self.assertTrue(wait_for(lambda: states(c.view(other, ["preferred"]), "preferred")[0][1] not in (leader, -1)))
        c.brokers[leader].restart()
        back = wait_for(lambda: states(c.view(other, ["preferred"]), "preferred")[0][1] == leader, timeout=30)
        self.assertTrue(back, states(c.view(other, ["preferred"]), "preferred"))

    def test_sigterm_moves_leadership_without_client_errors(self):
        import signal
        c = self.cluster
        placed = ClusterReplicationTest.create(self, "drained", 1, 3, {"min.insync.replicas": "2"})
        leader = placed[0][1]
        prod = producer(c.bootstrap, acks="all", retries=50, retry_backoff_ms=100)
        acked, failed = [], []
        stop = threading.Event()

        def run():
            i = 0
            while not stop.is_set():
                f = prod.send("drained", value=b"d%d" % i, partition=0)
                try:
                    acked.append(f.get(timeout=30))
                except KafkaError as e:
                    failed.append(e)
                i += 1
        t = threading.Thread(target=run)
        t.start()
        time.sleep(1)
        c.brokers[leader].signal(signal.SIGTERM)
        self.assertEqual(c.brokers[leader].wait_exit(), 0)
        others = [n for n in c.brokers if n != leader]
        moved = wait_for(lambda: states(c.view(others[0], ["drained"]), "drained")[0][1] in others)
        time.sleep(1)
        stop.set()
        t.join()
        prod.close()
        self.assertTrue(moved)
        self.assertEqual(failed, [])
        after = [m for m in acked if m.offset >= 0]
        got = read_all(",".join(c.brokers[n].bootstrap for n in others), "drained", 1, len(after))
        for m in after:
            self.assertIn((m.partition, m.offset), got)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterRetentionTest(unittest.TestCase):
    """Kafka's rule for retention on a replicated partition: a segment goes only once
    the high watermark has passed it, so the log start offset a fetch or ListOffsets
    shows never gets ahead of the high watermark (and records not yet replicated are
    not deleted under the followers)."""

    def setUp(self):
        # Paused followers stay in the ISR for the broker session (10 s), holding the
        # high watermark back while the leader's retention runs every 200 ms.
        self.cluster = Cluster(3, sets={"broker.session.timeout.ms": 10000, "replica.lag.time.max.ms": 30000,
                                        "log.retention.check.interval.ms": 200}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def offsets(self, port):
        """(earliest, latest) of kept-0 as its leader answers ListOffsets v7."""
        got = []
        for i, timestamp in enumerate((-2, -1)):
            conn = kproto.Conn(port, timeout=10)
            try:
                conn.send(kproto.list_offsets_flexible(i + 1, 7, "kept", 0, timestamp))
                error, _, offset, _ = kproto.parse_list_offsets_flexible(conn.recv_frame())
            finally:
                conn.close()
            self.assertEqual(error, 0)
            got.append(offset)
        return tuple(got)

    def test_retention_keeps_the_segments_the_high_watermark_has_not_passed(self):
        import signal
        c = self.cluster
        placed = create_replicated(self, c, "kept", 1, 3, {"segment.bytes": "1024", "retention.bytes": "1"})
        leader = placed[0][1]
        followers = [n for n in c.brokers if n != leader]
        prod = producer(c.brokers[leader].bootstrap, acks="all")
        for i in range(20):
            prod.send("kept", value=b"replicated-%03d" % i + b"." * 100, partition=0).get(timeout=20)
        prod.close()
        # Everything replicated: retention keeps only the active segment.
        self.assertTrue(wait_for(lambda: self.offsets(c.brokers[leader].port)[0] > 0))
        _, high_watermark = self.offsets(c.brokers[leader].port)
        self.assertEqual(high_watermark, 20)
        for n in followers:
            c.brokers[n].signal(signal.SIGSTOP)
        try:
            conn = kproto.Conn(c.brokers[leader].port, timeout=10)
            try:
                for i in range(30):  # acks=1: several segments past the high watermark
                    batch = kproto.record_batch([(None, b"unreplicated-%03d" % i + b"." * 100)])
                    conn.send(kproto.produce(i + 1, "kept", 0, batch, acks=1))
                    self.assertEqual(kproto.parse_produce_v8(conn.recv_frame())[1][0]["error"], 0)
            finally:
                conn.close()
            time.sleep(1.5)  # seven retention checks
            earliest, latest = self.offsets(c.brokers[leader].port)
            self.assertEqual(latest, high_watermark, "the followers were not held back")
            self.assertLessEqual(earliest, latest)
        finally:
            for n in followers:
                c.brokers[n].signal(signal.SIGCONT)
        # Once the followers have the records, the segments behind the new high
        # watermark go.
        self.assertTrue(wait_for(lambda: self.offsets(c.brokers[leader].port)[0] > high_watermark, timeout=30),
                        self.offsets(c.brokers[leader].port))


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterIsrMetricsTest(unittest.TestCase):
    """/metrics counts the ISR changes of the partitions a broker leads, as Kafka's
    IsrShrinksPerSec and IsrExpandsPerSec do (runnel counts the controller's
    fencing of a dead broker too)."""

    def setUp(self):
        self.admin_ports = {n: free_port() for n in (1, 2, 3)}
        self.cluster = Cluster(3, sets=FAST,
                               node_sets=lambda n: {"runnel.admin.listen": "127.0.0.1:%d" % self.admin_ports[n]})
        self.cluster.start()

    def tearDown(self):
        self.cluster.cleanup()

    def metric(self, node_id, name):
        """One unlabelled sample of a broker's /metrics."""
        return metric(self.admin_ports[node_id], name)

    def test_idle_partitions_in_fetch_sessions_keep_their_isr(self):
        # Followers fetch in sessions (KIP-227): a request names only the partitions whose
        # fetch state changed, and a leader reads an idle one only in its session's sweep.
        # The sweep must keep the followers in that partition's ISR: here
        # replica.lag.time.max.ms is 1.5 s and the partitions idle for 6 s.
        c = self.cluster
        create_replicated(self, c, "idle-isr", 12, 3)
        prod = producer(c.bootstrap, acks="all")
        for p in range(12):
            prod.send("idle-isr", value=b"once", partition=p).get(timeout=20)
        prod.close()
        # 12 partitions with two followers each: 24 held by the leaders' sessions.
        held = lambda: sum(self.metric(n, "runnel_fetch_session_partitions") for n in c.brokers)
        self.assertTrue(wait_for(lambda: held() == 24), held())
        self.assertTrue(all(self.metric(n, "runnel_fetch_sessions") >= 1 for n in c.brokers))
        time.sleep(6)
        self.assertEqual([self.metric(n, "runnel_isr_shrinks_total") for n in sorted(c.brokers)], [0, 0, 0])
        view = states(c.view(1, ["idle-isr"]), "idle-isr")
        self.assertEqual(sorted(len(isr) for _, _, _, isr in view.values()), [3] * 12, view)
        # Still replicating: a record acknowledged by all is on every broker.
        prod = producer(c.bootstrap, acks="all")
        m = prod.send("idle-isr", value=b"after", partition=5).get(timeout=20)
        prod.close()
        self.assertEqual(m.offset, 1)

    def test_an_etcd_outage_shrinks_no_isr(self):
        # With etcd gone for longer than the lease every broker fences itself and
        # serves no fetch, so its followers cannot keep up; that must not count
        # against them once etcd is back (each leader shrank its ISR to itself).
        c = self.cluster
        create_replicated(self, c, "etcd-outage", 6, 3)
        prod = producer(c.bootstrap, acks="all")
        for p in range(6):
            prod.send("etcd-outage", value=b"before", partition=p).get(timeout=20)
        prod.close()
        c.etcd.stop()
        time.sleep(5)  # past the lease (2 s) and replica.lag.time.max.ms (1.5 s)
        c.etcd.start()
        serving = lambda: all(len(states(c.view(n, ["etcd-outage"]), "etcd-outage")) == 6 and all(
            leader > 0 for _, leader, _, _ in states(c.view(n, ["etcd-outage"]), "etcd-outage").values())
            for n in c.brokers)
        self.assertTrue(wait_for(serving, timeout=30))
        time.sleep(3)  # two lag periods with the brokers serving again
        self.assertEqual([self.metric(n, "runnel_isr_shrinks_total") for n in sorted(c.brokers)], [0, 0, 0],
                         "\n".join(l for n in c.brokers for l in c.brokers[n].log().splitlines() if " ISR " in l))
        view = states(c.view(1, ["etcd-outage"]), "etcd-outage")
        self.assertEqual(sorted(len(isr) for _, _, _, isr in view.values()), [3] * 6, view)
        prod = producer(c.bootstrap, acks="all")
        self.assertEqual(prod.send("etcd-outage", value=b"after", partition=2).get(timeout=20).offset, 1)
        prod.close()

    def test_shrinks_and_expands_are_counted(self):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("isr-metrics", 1, 2)])
        finally:
            a.close()
        placed = wait_for(lambda: (states(c.view(1, ["isr-metrics"]), "isr-metrics").get(0) or (0, -1, [], []))[1] >= 0
                          and states(c.view(1, ["isr-metrics"]), "isr-metrics"))
        self.assertTrue(placed)
        _, leader, replicas, _ = placed[0]
        follower = [n for n in replicas if n != leader][0]
        self.assertTrue(wait_for(lambda: sorted(states(c.view(leader, ["isr-metrics"]), "isr-metrics")[0][3])
                                 == sorted(replicas)))
        self.assertEqual(self.metric(leader, "runnel_isr_shrinks_total"), 0)
        self.assertEqual(self.metric(leader, "runnel_partitions_under_replicated"), 0)

        c.brokers[follower].kill9()
        shrunk = wait_for(lambda: states(c.view(leader, ["isr-metrics"]), "isr-metrics")[0][3] == [leader])
        self.assertTrue(shrunk, states(c.view(leader, ["isr-metrics"]), "isr-metrics"))
        # The ISR the watch shows may come before the leader's AlterISR returns.
        self.assertTrue(wait_for(lambda: self.metric(leader, "runnel_isr_shrinks_total") == 1),
                        self.metric(leader, "runnel_isr_shrinks_total"))
        self.assertEqual(self.metric(leader, "runnel_partitions_under_replicated"), 1)

        expands = self.metric(leader, "runnel_isr_expands_total")
        c.brokers[follower].restart()
        self.assertTrue(wait_for(lambda: sorted(states(c.view(leader, ["isr-metrics"]), "isr-metrics")[0][3])
                                 == sorted(replicas)))
        self.assertTrue(wait_for(lambda: self.metric(leader, "runnel_isr_expands_total") == expands + 1))
        self.assertEqual(self.metric(leader, "runnel_partitions_under_replicated"), 0)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterLongPollWakeupTest(unittest.TestCase):
    """A follower's fetch parked on the leader is woken by every append to any of its
    partitions, also one that lands while the fetch is still registering on the others.
    Missed, the fetch sleeps its whole replica.fetch.wait.max.ms, and the follower's
    report of what it has synced, so the high watermark and every acks=all producer,
    waits with it (before the fix: a transactional producer on RF 3 stalled 500 ms on
    about one transaction in eight). Here the wait is 12 s, so a missed wake-up fails
    the produce instead of slowing it."""

    def setUp(self):
        self.cluster = Cluster(3, sets={"broker.session.timeout.ms": 2000, "replica.lag.time.max.ms": 60000,
                                        "replica.fetch.wait.max.ms": 12000}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def test_a_chain_of_acks_all_produces_never_waits_out_the_followers_long_poll(self):
        c = self.cluster
        # Many partitions per leader: each follower fetch registers on all of them.
        create_replicated(self, c, "chain", 24, 3)
        # A partition new to a follower is added to its next fetch, which may come only
        # when the fetch parked now returns (up to the 12 s): the first record of each
        # partition may wait that long, as in Kafka (there 500 ms by default).
        warm = producer(c.bootstrap, acks="all", linger_ms=0, request_timeout_ms=60000)
        try:
            for partition in range(3):
                warm.send("chain", value=b"first", partition=partition).get(timeout=70)
        finally:
            warm.close()
        p = producer(c.bootstrap, acks="all", linger_ms=0, retries=0, request_timeout_ms=6000)
        try:
            # One at a time, each sent as soon as the last is acknowledged: the
            # acknowledgement comes from the follower's report, and the next
            # append races that same fetch's registration on the other partitions.
            for i in range(2000):
                p.send("chain", value=b"r%d" % i, partition=i % 3).get(timeout=10)
        finally:
            p.close()


if __name__ == "__main__":
    unittest.main()
