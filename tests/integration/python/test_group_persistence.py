"""What the group coordinator keeps in __consumer_offsets, seen through
kafka-python 2.0.2 across broker restarts:

- a Stable group comes back with its members and their assignments, so the
  members carry on without rejoining (as after a Kafka coordinator move), and
  a restored member that never returns is expired after its session timeout;
- __consumer_offsets is compacted: after many commits its log start moves
  forward and old segments are deleted, and a restart (kill -9) still finds
  every latest committed offset and none of the deleted ones;
- the topic is never cut by retention (cleanup.policy=compact, retention.ms=-1).
"""
import glob
import os
import time

from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import OffsetAndMetadata

from helpers import BrokerTestCase, admin, consumer, create_topic
from test_groups import MemberTestCase, produce_per_partition, split_ok, wait_until

SESSION_MS = 4000


def describe(bootstrap, group):
    a = admin(bootstrap)
    try:
        (info,) = a.describe_consumer_groups([group])
        members = {m.member_id: sorted(p for t in m.member_assignment.assignment for p in t[1])
                   for m in info.members}
        return info.state, members
    finally:
        a.close()


class MemberRestoreTests(MemberTestCase):
    member_session_ms = SESSION_MS

    def test_stable_group_survives_restart_without_rebalance(self):
        create_topic(self.bootstrap, "py-restore", 3)
        a, b = self.member("py-restore-g", "py-restore"), self.member("py-restore-g", "py-restore")
        wait_until(lambda: split_ok([a, b], [0, 1, 2]), 30, "the group to settle")
        wait_until(lambda: describe(self.bootstrap, "py-restore-g")[0] == "Stable", 10, "Stable")
        state, before = describe(self.bootstrap, "py-restore-g")
        history = (len(a.assign_history), len(b.assign_history))

        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        state, after = describe(self.bootstrap, "py-restore-g")
        self.assertEqual(state, "Stable", "the group is loaded Stable, before any member is back")
        self.assertEqual(after, before, "same member ids, same assignments")

        # Two session timeouts later the members are still the same ones, with
        # no new assignment: their heartbeats were accepted, nobody rejoined
        # (kafka-python drops its member id on UNKNOWN_MEMBER_ID).
        time.sleep(2 * SESSION_MS / 1000)
        self.assertEqual(describe(self.bootstrap, "py-restore-g"), ("Stable", before))
        self.assertEqual((len(a.assign_history), len(b.assign_history)), history)
        produce_per_partition(self.bootstrap, "py-restore", [0, 1, 2], 30, "after")
        wait_until(lambda: len(a.snapshot()[1]) + len(b.snapshot()[1]) >= 30, 20, "30 records after the restart")
        time.sleep(0.5)
        got = sorted(v for m in (a, b) for _, _, v in m.snapshot()[1])
        self.assertEqual(got, sorted("after%d" % i for i in range(30)), "each record once")

    def test_restored_member_that_never_returns_is_expired(self):
        create_topic(self.bootstrap, "py-restore-gone", 3)
        a, b = self.member("py-gone-g", "py-restore-gone"), self.member("py-gone-g", "py-restore-gone")
        wait_until(lambda: split_ok([a, b], [0, 1, 2]), 30, "the group to settle")
        wait_until(lambda: describe(self.bootstrap, "py-gone-g")[0] == "Stable", 10, "Stable")
        self.assertEqual(self.broker.stop(), 0)
        b.kill9()  # gone while the broker was down: it never says goodbye
        self.broker.restart()
        self.assertEqual(len(describe(self.bootstrap, "py-gone-g")[1]), 2, "both members restored")
        wait_until(lambda: a.snapshot()[0] == [0, 1, 2], 4 * SESSION_MS / 1000 + 10, "a to take every partition")
        state, members = describe(self.bootstrap, "py-gone-g")
        self.assertEqual(list(members.values()), [[0, 1, 2]])


class OffsetsCompactionTests(BrokerTestCase):
    broker_sets = {"num.partitions": 3, "offsets.topic.num.partitions": 1, "offsets.topic.segment.bytes": 16384,
                   "runnel.offsets.compaction.min.records": 200}

    def offsets_segments(self):
        return glob.glob(os.path.join(self.broker.data_dir, "__consumer_offsets-0", "*.log"))

    def test_commits_compact_and_survive_kill9(self):
        create_topic(self.bootstrap, "py-compact", 3)
        tps = [TopicPartition("py-compact", p) for p in range(3)]
        c = consumer(self.bootstrap, group_id="py-compact-g", request_timeout_ms=30000)
        gone = consumer(self.bootstrap, group_id="py-compact-gone", request_timeout_ms=30000)
        try:
            c.assign(tps)
            gone.assign(tps)
            gone.commit({tp: OffsetAndMetadata(5, "") for tp in tps})
            for i in range(1500):
                c.commit({tps[i % 3]: OffsetAndMetadata(i, "commit %d" % i)})
        finally:
            c.close(autocommit=False)
            gone.close(autocommit=False)
        a = admin(self.bootstrap)
        try:
            a.delete_consumer_groups(["py-compact-gone"])
        finally:
            a.close()

        probe = consumer(self.bootstrap)
        try:
            offsets_tp = TopicPartition("__consumer_offsets", 0)
            wait_until(lambda: probe.beginning_offsets([offsets_tp])[offsets_tp] > 1000, 10, "the log start to move")
            end = probe.end_offsets([offsets_tp])[offsets_tp]
            self.assertGreater(end, 1500, "every commit was written")
        finally:
            probe.close()
        segments = len(self.offsets_segments())
        self.assertLess(segments, 10, "superseded segments are deleted (%d left)" % segments)

        self.broker.kill9()
        self.broker.restart()
        c = consumer(self.bootstrap, group_id="py-compact-g", request_timeout_ms=30000)
        try:
            self.assertEqual([c.committed(tp) for tp in tps], [1497, 1498, 1499])
        finally:
            c.close(autocommit=False)
        a = admin(self.bootstrap)
        try:
            self.assertEqual(a.list_consumer_group_offsets("py-compact-gone"), {})
            groups = dict(a.list_consumer_groups())
            self.assertIn("py-compact-g", groups)
            self.assertNotIn("py-compact-gone", groups)
            (res,) = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "__consumer_offsets")])
            configs = {e[0]: e[1] for e in res.resources[0][4]}
            self.assertEqual(configs["cleanup.policy"], "compact")
            self.assertEqual(configs["retention.ms"], "-1")
        finally:
            a.close()
