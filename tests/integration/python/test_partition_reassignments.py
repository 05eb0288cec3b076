"""AlterPartitionReassignments (45) v0-1 and ListPartitionReassignments (46)
v0 (KIP-455; kafka-reassign-partitions.sh needs a JVM), over raw sockets:
on three brokers a partition moves off its leader onto a broker that had
none of it (the new replica copies the log, the old one's directory goes,
every acknowledged record stays), a replication factor grows, a reorder
completes at once, a move to a paused broker stays in progress, is listed
and is cancelled. Kafka's errors and messages for bad targets; a single
node takes only itself; ALTER / DESCRIBE on the cluster, else
CLUSTER_AUTHORIZATION_FAILED."""
import json
import os
import signal
import subprocess
import time
import unittest

import etcd
import kproto
from broker import wait_port
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, admin, create_topic, producer
from kafka.admin import NewTopic
from test_acls import USERS, admin_properties, runnel, secured_broker
from test_cluster_replication import FAST, create_replicated, read_all, states
from test_describe_log_dirs import describe

NONE, UNKNOWN_TOPIC_OR_PARTITION, CLUSTER_AUTHORIZATION_FAILED = 0, 3, 31
INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS = 38, 39, 85
AUTH_FAILED = (CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")


def alter_request(moves, version=1, allow_rf_change=True, correlation_id=9):
    """moves: {topic: {partition: [replicas] or None (cancel)}}."""
    body = kproto.header_v2(45, version, correlation_id) + kproto.i32(30000)
    if version >= 1:
        body += kproto.i8(1 if allow_rf_change else 0)
    body += kproto.carray([
        kproto.cstring(t) + kproto.carray([
            kproto.i32(p) + kproto.carray(None if r is None else [kproto.i32(n) for n in r]) + kproto.NO_TAGS
            for p, r in parts.items()]) + kproto.NO_TAGS
        for t, parts in moves.items()])
    return kproto.frame(body + kproto.NO_TAGS)


def parse_alter(payload, version=1):
    """-> (top error, top message, {topic: {partition: (error, message)}})."""
    r = kproto.VersionedReader(payload, True)
    assert r.correlation_id == 9
    r.i32()  # throttle
    if version >= 1:
        assert r.i8() in (0, 1)  # AllowReplicationFactorChange, echoed
    top, top_message = r.i16(), r.string()

    def partition():
        p, err, msg = r.i32(), r.i16(), r.string()
        r.tags()
        return p, (err, msg)

    def topic():
        name, parts = r.string(), dict(r.array(partition))
        r.tags()
        return name, parts

    return top, top_message, dict(r.array(topic))


def list_request(topics=None, correlation_id=9):
    """topics: None for every move, else {topic: [partitions]}."""
    body = kproto.header_v2(46, 0, correlation_id) + kproto.i32(30000) + kproto.topic_partitions(topics, True)
    return kproto.frame(body + kproto.NO_TAGS)


def parse_list(payload):
    """-> (error, message, {topic: {partition: (replicas, adding, removing)}})."""
    r = kproto.VersionedReader(payload, True)
    assert r.correlation_id == 9
    r.i32()
    err, msg = r.i16(), r.string()

    def partition():
        p = r.i32()
        lists = tuple(r.array(r.i32) for _ in range(3))
        r.tags()
        return p, lists

    def topic():
        name, parts = r.string(), dict(r.array(partition))
        r.tags()
        return name, parts

    return err, msg, dict(r.array(topic))


def cli(broker, *args):
    """`runnel cluster ARGS...` against one broker."""
    return subprocess.run([broker.binary, "cluster", *args, "--bootstrap", broker.bootstrap], capture_output=True,
                          text=True, timeout=60)


def alter(port, moves, version=1, allow_rf_change=True):
    return parse_alter(kproto.round_trip(port, alter_request(moves, version, allow_rf_change), timeout=40), version)


def ongoing(port, topics=None):
    return parse_list(kproto.round_trip(port, list_request(topics), timeout=20))


class SingleNodeReassignmentTest(BrokerTestCase):
    def test_a_single_node_takes_only_itself(self):
        create_topic(self.bootstrap, "ra-single", 2)
        node = next(iter(kproto.metadata(self.broker.port)[0]))
        for version in (0, 1):
            top, msg, topics = alter(self.broker.port, {
                "ra-single": {0: [node], 1: [node, 7], 5: [node]}, "ra-none": {0: [node]}}, version)
            self.assertEqual((top, msg), (NONE, None))
            self.assertEqual(topics["ra-single"], {
                0: (NONE, None),
                1: (INVALID_REPLICA_ASSIGNMENT,
                    "The manual partition assignment includes broker 7, but no such broker is registered."),
                5: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition ra-single:5.")})
            self.assertEqual(topics["ra-none"], {
                0: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named ra-none.")})
        _, _, topics = alter(self.broker.port, {"ra-single": {0: None, 1: [], 2: [node]}})
        self.assertEqual(topics["ra-single"][0], (NO_REASSIGNMENT_IN_PROGRESS,
                                                  "No partition reassignment is in progress."))
        self.assertEqual(topics["ra-single"][1], (INVALID_REPLICA_ASSIGNMENT,
                                                  "The manual partition assignment includes an empty replica list."))
        self.assertEqual(topics["ra-single"][2][0], UNKNOWN_TOPIC_OR_PARTITION)
        _, _, topics = alter(self.broker.port, {"ra-single": {0: [node, node]}}, allow_rf_change=False)
        self.assertEqual(topics["ra-single"][0], (INVALID_REPLICA_ASSIGNMENT,
                                                  "The manual partition assignment includes the broker %d more "
                                                  "than once." % node))
        self.assertEqual(ongoing(self.broker.port), (NONE, None, {}))
        self.assertEqual(ongoing(self.broker.port, {"ra-single": [0]}), (NONE, None, {}))
        r = cli(self.broker, "reassign", "ra-single:0=%d" % node, "ra-single:1=%d,9" % node, "--format", "json")
        self.assertEqual(r.returncode, 1)
        self.assertEqual([(e["partition"], e["error"]) for e in json.loads(r.stdout)],
                         [(0, "NONE"), (1, "INVALID_REPLICA_ASSIGNMENT")])
        r = cli(self.broker, "reassign", "ra-single:0=%d,%d" % (node, node), "--disallow-replication-factor-change")
        self.assertEqual(r.returncode, 1)
        self.assertIn("more than once", r.stdout)
        r = cli(self.broker, "reassign", "ra-single:x=1")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(cli(self.broker, "reassignments").stdout.split(),
                         ["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"])
        self.assertBrokerAlive()


class ReassignmentAclTest(unittest.TestCase):
    def test_needs_alter_to_move_and_describe_to_list(self):
        b = secured_broker()
        b.start()
        try:
            port = int(b.sasl.split(":")[1])
            self.assertTrue(wait_port(port, 10.0))

            def as_alice(request, parse):
                c = kproto.plain_login(port, "alice", USERS["alice"])
                try:
                    c.send(request)
                    return parse(c.recv_frame())
                finally:
                    c.close()

            self.assertEqual(as_alice(alter_request({"t": {0: [1], 1: None}}), parse_alter),
                             (*AUTH_FAILED, {"t": {0: AUTH_FAILED, 1: AUTH_FAILED}}))
            self.assertEqual(as_alice(list_request(), parse_list), (*AUTH_FAILED, {}))
            for operation in ("Alter", "Describe"):
                r = runnel("acl", "add", "--bootstrap-server", b.sasl, "--command-config", admin_properties(b.tmp),
                           "--allow-principal", "User:alice", "--operation", operation, "--cluster")
                self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(as_alice(alter_request({"t": {0: [1]}}), parse_alter)[2],
                             {"t": {0: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named t.")}})
            self.assertEqual(as_alice(list_request(), parse_list), (NONE, None, {}))
            self.assertTrue(b.alive(), b.log())
        finally:
            b.cleanup()


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ClusterReassignmentTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets=FAST).start()

    def tearDown(self):
        self.cluster.cleanup()

    def state(self, topic, via, partition=0):
        return states(self.cluster.view(via, [topic]), topic).get(partition)

    def restart_with_two_dirs(self, node):
        """Restarts broker `node` with a second log directory; returns both (absolute)."""
        c = self.cluster
        b = c.brokers[node]
        b.stop()
        dirs = [os.path.abspath(b.data_dir), os.path.abspath(os.path.join(b.tmp, "second"))]
        b.data_dir = ",".join(dirs)
        b.restart()
        self.assertTrue(wait_for(lambda: c.view(node) and sorted(c.view(1)[0]) == [1, 2, 3]), b.log()[-2000:])
        return dirs

    def settled(self, topic, via, replicas, partition=0):
        """Metadata shows exactly `replicas`, all in sync, one of them leading."""
        def check():
            s = self.state(topic, via, partition)
            return s and s[2] == replicas and sorted(s[3]) == sorted(replicas) and s[1] in replicas
        return wait_for(check, timeout=30)

    def test_a_partition_moves_off_its_leader_and_keeps_every_record(self):
        c = self.cluster
        placed = create_replicated(self, c, "ra-move", 1, 2)
        _, leader, replicas, _ = placed[0]
        follower = next(n for n in replicas if n != leader)
        newcomer = next(n for n in c.brokers if n not in replicas)
        p = producer(c.bootstrap, acks="all", retries=5)
        for i in range(300):
            p.send("ra-move", value=b"before-%d" % i, partition=0)
        p.flush()
        old_dir = os.path.join(c.brokers[leader].data_dir, "ra-move-0")
        self.assertTrue(os.path.isdir(old_dir))
        target = [newcomer, follower]
        top, msg, topics = alter(c.brokers[follower].port, {"ra-move": {0: target}})
        self.assertEqual((top, msg, topics), (NONE, None, {"ra-move": {0: (NONE, None)}}))
        # Listed while in progress (unless the copy was already done).
        _, _, listed = ongoing(c.brokers[newcomer].port)
        if listed:
            self.assertEqual(listed, {"ra-move": {0: ([newcomer, follower, leader], [newcomer], [leader])}})
        self.assertTrue(self.settled("ra-move", follower, target), self.state("ra-move", follower))
        # The leader was removed: the first replica of the target in the ISR leads.
        self.assertTrue(wait_for(lambda: self.state("ra-move", follower)[1] == newcomer, timeout=10))
        self.assertEqual(ongoing(c.brokers[leader].port), (NONE, None, {}))
        self.assertTrue(wait_for(lambda: not os.path.exists(old_dir), timeout=15), os.listdir(
            c.brokers[leader].data_dir))
        # The newcomer copied the log: every record, then new ones, from it.
        sent = [p.send("ra-move", value=b"after-%d" % i, partition=0) for i in range(100)]
        p.flush()
        p.close()
        for f in sent:
            f.get(timeout=1)
        got = read_all(c.bootstrap, "ra-move", 1, 400)
        self.assertEqual(sorted(got), [(0, o) for o in range(400)])
        self.assertEqual(got[(0, 0)], b"before-0")
        self.assertEqual(got[(0, 399)], b"after-99")
        for b in c.brokers.values():
            self.assertTrue(b.alive(), b.log())

    def test_replication_factor_grows_and_a_reorder_completes_at_once(self):
        c = self.cluster
        placed = create_replicated(self, c, "ra-grow", 2, 1)
        p = producer(c.bootstrap, acks="all", retries=5)
        for i in range(50):
            p.send("ra-grow", value=b"%d" % i, partition=1)
        p.flush()
        p.close()
        only = placed[1][2][0]
        others = [n for n in sorted(c.brokers) if n != only]
        # v1 refuses a new replication factor unless allowed; v0 always allows it.
        _, _, topics = alter(c.brokers[only].port, {"ra-grow": {1: [only] + others}}, allow_rf_change=False)
        self.assertEqual(topics["ra-grow"][1], (
            INVALID_REPLICATION_FACTOR,
            "The replication factor is changed from 1 to 3 but modifying the replication factor is not allowed."))
        _, _, topics = alter(c.brokers[only].port, {"ra-grow": {1: [only] + others}}, version=0)
        self.assertEqual(topics["ra-grow"][1], (NONE, None))
        self.assertTrue(self.settled("ra-grow", others[0], [only] + others, 1), self.state("ra-grow", only, 1))
        for n in others:
            self.assertTrue(os.path.isdir(os.path.join(c.brokers[n].data_dir, "ra-grow-1")))
        # A new order of the same replicas completes in the same write.
        # (through `runnel cluster reassign` and kafka-reassign-partitions.sh's plan file)
        reordered = list(reversed([only] + others))
        plan = os.path.join(c.brokers[only].tmp, "plan.json")
        with open(plan, "w") as f:
            json.dump({"version": 1, "partitions": [
                {"topic": "ra-grow", "partition": 1, "replicas": reordered, "log_dirs": ["any"] * 3}]}, f)
        r = cli(c.brokers[others[1]], "reassign", "--reassignment-json-file", plan)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1].split(), ["ra-grow", "1", "started"])
        self.assertEqual(ongoing(c.brokers[others[1]].port), (NONE, None, {}))
        self.assertEqual(self.state("ra-grow", others[1], 1)[2], reordered)
        got = read_all(c.bootstrap, "ra-grow", 2, 50)
        self.assertEqual(len(got), 50)

    def test_a_plans_log_dirs_place_and_move_replicas_between_a_brokers_directories(self):
        # kafka-reassign-partitions.sh's log_dirs: the replica added on a
        # broker with two directories ends up in the one the plan names (the
        # broker remembers it when asked before the replica exists, else
        # moves it there), and a later plan moves it to the other one while
        # it follows, copying files.
        c = self.cluster
        target = next(n for n in c.brokers if n != 1)
        b = c.brokers[target]
        dirs = self.restart_with_two_dirs(target)
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("ra-dirs", -1, -1, replica_assignments={0: [1]})])
        finally:
            a.close()
        self.assertTrue(self.settled("ra-dirs", 1, [1]))
        p = producer(c.bootstrap, acks="all")
        for i in range(300):
            p.send("ra-dirs", value=b"%d" % i + b"z" * 500, partition=0)
        p.flush()

        path = os.path.join(c.brokers[1].tmp, "plan-dirs.json")

        def plan(log_dir, *flags):
            with open(path, "w") as f:
                json.dump({"version": 1, "partitions": [{"topic": "ra-dirs", "partition": 0, "replicas": [1, target],
                                                         "log_dirs": ["any", log_dir]}]}, f)
            return cli(c.brokers[1], "reassign", "--reassignment-json-file", path, "--format", "json", *flags)

        def holds(d):
            return os.path.isdir(os.path.join(d, "ra-dirs-0"))

        r = plan(dirs[1])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn({"topic": "ra-dirs", "partition": 0, "broker": target, "log_dir": dirs[1], "error": "NONE",
                       "message": ""}, json.loads(r.stdout))
        self.assertTrue(self.settled("ra-dirs", 1, [1, target]))
        self.assertTrue(holds(dirs[1]) and not holds(dirs[0]), (os.listdir(dirs[0]), os.listdir(dirs[1])))

        # Moved to the first directory while it follows, under
        # --replica-alter-log-dirs-throttle: set on the broker whose replica
        # moves, removed by --verify once the move is done.
        from test_broker_configs import describe as describe_configs
        rate = "replica.alter.log.dirs.io.max.bytes.per.second"
        r = plan(dirs[0], "--replica-alter-log-dirs-throttle", "10000000")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(describe_configs(b.port, 4, str(target), [rate])[1][rate][0], "10000000")
        self.assertTrue(wait_for(lambda: holds(dirs[0]) and not holds(dirs[1]), timeout=30),
                        (os.listdir(dirs[0]), os.listdir(dirs[1])))
        # --verify reports each replica's directory, as the tool does.
        r = plan(dirs[0], "--verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["log_dirs"], [
            {"topic": "ra-dirs", "partition": 0, "broker": target, "log_dir": dirs[0], "status": "complete"}])
        self.assertTrue(json.loads(r.stdout)["throttle_removed"])
        self.assertEqual(describe_configs(b.port, 4, str(target), [rate])[1][rate][0], str(2**63 - 1))
        r = plan(dirs[1], "--verify")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["log_dirs"][0]["status"], "not moving (in %s)" % dirs[0])
        for i in range(300, 400):
            p.send("ra-dirs", value=b"%d" % i + b"z" * 500, partition=0)
        p.flush()
        p.close()

        def sizes():
            out = []
            for n in (1, target):
                _, results = describe(c.brokers[n].port, 4, {"ra-dirs": [0]})
                out.append([res["topics"].get("ra-dirs", {}).get(0) for res in results])
            return out

        # It still follows: the same bytes as the leader, in its new directory.
        self.assertTrue(wait_for(lambda: sizes()[1][0] == sizes()[0][0], timeout=20), sizes())
        self.assertIsNone(sizes()[1][1])
        self.assertEqual(self.state("ra-dirs", 1)[3], [1, target])
        self.assertEqual(len(read_all(c.bootstrap, "ra-dirs", 1, 400)), 400)

    def test_a_brokers_offsets_partitions_move_between_its_directories(self):
        # __consumer_offsets replicas (led here or followed) move too, and
        # the group's committed offsets stay readable and writable.
        import re
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata
        from helpers import consumer
        from test_log_dirs import alter_replica_log_dirs
        c = self.cluster
        target = 2
        b = c.brokers[target]
        dirs = self.restart_with_two_dirs(target)
        create_replicated(self, c, "ra-g", 1, 3)
        tp = TopicPartition("ra-g", 0)

        def commit(offset):
            k = consumer(c.bootstrap, group_id="dirs-group", request_timeout_ms=30000)
            try:
                k.commit({tp: OffsetAndMetadata(offset, None)})
            finally:
                k.close()

        def committed():
            k = consumer(c.bootstrap, group_id="dirs-group", request_timeout_ms=30000)
            try:
                return k.committed(tp)
            finally:
                k.close()
        commit(10)
        self.assertEqual(committed(), 10)

        def held(d):
            return sorted(int(n.rsplit("-", 1)[1]) for n in os.listdir(d) if re.fullmatch(r"__consumer_offsets-\d+", n))
        self.assertTrue(wait_for(lambda: len(held(dirs[0]) + held(dirs[1])) == 50), (held(dirs[0]), held(dirs[1])))
        source = 0 if len(held(dirs[0])) >= len(held(dirs[1])) else 1
        moving = held(dirs[source])
        self.assertEqual(alter_replica_log_dirs(b.port, {dirs[1 - source]: {"__consumer_offsets": moving}}),
                         {"__consumer_offsets": {p: 0 for p in moving}})
        self.assertTrue(wait_for(lambda: held(dirs[source]) == [], timeout=60), b.log()[-2000:])
        self.assertEqual(committed(), 10)
        commit(7)
        self.assertEqual(committed(), 7)
        # Its replicas still follow (or lead) with the others in sync.
        self.assertTrue(wait_for(lambda: all(
            sorted(s[3]) == [1, 2, 3] for s in c.view(1, ["__consumer_offsets"])[2]["__consumer_offsets"][1].values()),
            timeout=30))

    def test_a_generated_plan_moves_a_topic_onto_other_brokers(self):
        # `runnel cluster reassign --generate`, as kafka-reassign-partitions.sh
        # --generate: the current assignment and a plan, then executed.
        c = self.cluster
        placed = create_replicated(self, c, "ra-gen", 3, 1)
        target = sorted(c.brokers)[-1]
        topics_file = os.path.join(c.brokers[1].tmp, "topics.json")
        with open(topics_file, "w") as f:
            json.dump({"version": 1, "topics": [{"topic": "ra-gen"}]}, f)
        r = cli(c.brokers[1], "reassign", "--generate", "--topics-to-move-json-file", topics_file, "--broker-list",
                str(target), "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual([(e["partition"], e["replicas"]) for e in report["current"]["partitions"]],
                         [(p, placed[p][2]) for p in range(3)])
        self.assertEqual(report["proposed"], {"version": 1, "partitions": [
            {"topic": "ra-gen", "partition": p, "replicas": [target], "log_dirs": ["any"]} for p in range(3)]})
        # The text form prints the same two plans under Kafka's headings.
        r = cli(c.brokers[1], "reassign", "--generate", "--topics", "ra-gen", "--broker-list", str(target))
        lines = r.stdout.splitlines()
        self.assertEqual((lines[0], lines[3]), ("Current partition replica assignment",
                                                "Proposed partition reassignment configuration"))
        plan = os.path.join(c.brokers[1].tmp, "plan.json")
        with open(plan, "w") as f:
            f.write(lines[4])
        r = cli(c.brokers[1], "reassign", "--reassignment-json-file", plan)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for p in range(3):
            self.assertTrue(self.settled("ra-gen", 1, [target], p), self.state("ra-gen", 1, p))
        # Errors: an unknown topic, a broker that is not registered, too few brokers.
        self.assertEqual(cli(c.brokers[1], "reassign", "--generate", "--topics", "ra-none", "--broker-list",
                             "1").returncode, 1)
        r = cli(c.brokers[1], "reassign", "--generate", "--topics", "ra-gen", "--broker-list", "1,42")
        self.assertEqual((r.returncode, r.stderr.strip()), (1, "Error: broker 42 is not registered"))
        self.assertEqual(cli(c.brokers[1], "reassign", "--generate", "--topics", "ra-gen").returncode, 2)

    def test_bad_targets_get_kafkas_errors(self):
        c = self.cluster
        create_replicated(self, c, "ra-bad", 1, 2)
        _, _, topics = alter(c.brokers[1].port, {"ra-bad": {0: [1, 99], 3: [1], 4: None}, "ra-nope": {0: [1]}})
        self.assertEqual(topics, {
            "ra-bad": {
                0: (INVALID_REPLICA_ASSIGNMENT,
                    "The manual partition assignment includes broker 99, but no such broker is registered."),
                3: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition ra-bad:3."),
                4: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find partition ra-bad:4.")},
            "ra-nope": {0: (UNKNOWN_TOPIC_OR_PARTITION, "Unable to find a topic named ra-nope.")}})
        _, _, topics = alter(c.brokers[2].port, {"ra-bad": {0: None}})
        self.assertEqual(topics["ra-bad"][0], (NO_REASSIGNMENT_IN_PROGRESS,
                                               "No partition reassignment is in progress."))
        _, _, topics = alter(c.brokers[2].port, {"ra-bad": {0: [2, 2]}})
        self.assertEqual(topics["ra-bad"][0][0], INVALID_REPLICA_ASSIGNMENT)

    def test_a_move_to_a_paused_broker_is_listed_and_cancelled(self):
        c = self.cluster
        placed = create_replicated(self, c, "ra-cancel", 1, 2)
        _, leader, replicas, _ = placed[0]
        stuck = next(n for n in c.brokers if n not in replicas)
        p = producer(c.bootstrap, acks="all", retries=5)
        for i in range(20):
            p.send("ra-cancel", value=b"%d" % i, partition=0)
        p.flush()
        # Paused, it is still registered (its lease lives on for a while)
        # but copies nothing: the move stays in progress.
        c.brokers[stuck].signal(signal.SIGSTOP)
        try:
            target = [stuck] + replicas
            _, _, topics = alter(c.brokers[leader].port, {"ra-cancel": {0: target}})
            self.assertEqual(topics["ra-cancel"][0], (NONE, None))
            expected = {"ra-cancel": {0: (target, [stuck], [])}}
            self.assertEqual(ongoing(c.brokers[leader].port), (NONE, None, expected))
            self.assertEqual(ongoing(c.brokers[leader].port, {"ra-cancel": [0, 1], "other": [0]}),
                             (NONE, None, expected))
            self.assertEqual(ongoing(c.brokers[leader].port, {"ra-cancel": [1]}), (NONE, None, {}))
            self.assertEqual(self.state("ra-cancel", leader)[2], target)
            r = cli(c.brokers[leader], "reassignments", "--format", "json")
            self.assertEqual(json.loads(r.stdout), [{"topic": "ra-cancel", "partition": 0, "replicas": target,
                                                     "adding": [stuck], "removing": []}])
            # `runnel topic describe` (and the console's topic page) shows the move, as kafka-topics.sh does.
            b = c.brokers[leader]
            r = subprocess.run([b.binary, "topic", "describe", "ra-cancel", "--bootstrap", b.bootstrap, "--format",
                                "json"], capture_output=True, text=True, timeout=60)
            part = json.loads(r.stdout)["partitions"][0]
            self.assertEqual((part["replicas"], part["adding_replicas"], part["removing_replicas"]),
                             (target, [stuck], []), r.stderr)
            r = subprocess.run([b.binary, "topic", "describe", "ra-cancel", "--bootstrap", b.bootstrap],
                               capture_output=True, text=True, timeout=60)
            header, row = [line.split() for line in r.stdout.split("\nPARTITIONS\n")[1].splitlines()[1:3]]
            self.assertEqual(header[-2:], ["ADDING", "REMOVING"], r.stdout)
            self.assertEqual(row[-2:], [str(stuck), "-"], r.stdout)
            time.sleep(0.5)
            self.assertNotIn(stuck, self.state("ra-cancel", leader)[3])
            # Cancelled with `runnel cluster reassign --cancel`.
            r = cli(c.brokers[leader], "reassign", "ra-cancel:0", "--cancel", "--format", "json")
            self.assertEqual((r.returncode, json.loads(r.stdout)), (0, [
                {"topic": "ra-cancel", "partition": 0, "error": "NONE", "message": ""}]), r.stderr)
            r = cli(c.brokers[leader], "reassign", "ra-cancel:0", "--cancel")
            self.assertEqual(r.returncode, 1)
            self.assertIn("No partition reassignment is in progress.", r.stdout)
            self.assertEqual(ongoing(c.brokers[leader].port), (NONE, None, {}))
            self.assertEqual(self.state("ra-cancel", leader)[2], replicas)
        finally:
            c.brokers[stuck].signal(signal.SIGCONT)
        # Back, the broker holds nothing of the topic (it may open the replica
        # from the first record it reads, then drops it at the second).
        self.assertTrue(wait_for(lambda: self.state("ra-cancel", stuck) is not None, timeout=20))
        self.assertTrue(wait_for(
            lambda: not os.path.exists(os.path.join(c.brokers[stuck].data_dir, "ra-cancel-0")), timeout=15))
        for i in range(20, 40):
            p.send("ra-cancel", value=b"%d" % i, partition=0)
        p.flush()
        p.close()
        self.assertEqual(len(read_all(c.bootstrap, "ra-cancel", 1, 40)), 40)
        for b in c.brokers.values():
            self.assertTrue(b.alive(), b.log())


if __name__ == "__main__":
    unittest.main()
