"""The newest versions runnel serves (those of Kafka 3.9/4.0), over raw
sockets: Fetch v13-v17 by topic id, Produce v10/v11 with the KIP-951 leader
hint from a broker that does not lead the partition (a 3-broker cluster),
ListOffsets v8-v10 (-3, -4, -5), Metadata v13, DescribeTopicPartitions
paging, and the advertised ranges."""
import time
import unittest

import etcd
import kproto
from cluster import Cluster, wait_for
from helpers import BrokerTestCase, admin, create_topic

NOT_LEADER_OR_FOLLOWER = 6
INVALID_REQUEST = 42
UNKNOWN_TOPIC_OR_PARTITION = 3
UNKNOWN_TOPIC_ID = 100
ILLEGAL_GENERATION = 22
GROUP_ID_NOT_FOUND = 69
MISMATCHED_ENDPOINT_TYPE = 114
UNSUPPORTED_ENDPOINT_TYPE = 115
TOPIC = "newest"


def round_trip(port, request):
    c = kproto.Conn(port, timeout=10)
    try:
        c.send(request)
        return c.recv_frame()
    finally:
        c.close()


def topic_id(port, topic, version=13):
    md = kproto.parse_metadata_flexible(round_trip(port, kproto.metadata_flexible(1, version, [topic])), version)
    return md["topics"][topic]["id"]


def produce(port, topic, partition, values, version=11, acks=-1):
    batch = kproto.record_batch([(None, v) for v in values])
    _, parts, endpoints = kproto.parse_produce_flexible(
        round_trip(port, kproto.produce_flexible(5, topic, partition, batch, version=version, acks=acks)))
    return parts[0], endpoints


class NewestVersionsTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_topic(cls.bootstrap, TOPIC, partitions=1)
        create_topic(cls.bootstrap, "dtp-a", partitions=3)
        create_topic(cls.bootstrap, "dtp-b", partitions=2)
        # Two batches: offsets 0-2 with old timestamps, 3-4 with the newest.
        now = int(time.time() * 1000)
        c = kproto.Conn(cls.broker.port)
        try:
            for values, ts in (([b"a", b"b", b"c"], now - 60000), ([b"d", b"e"], now)):
                c.send(kproto.produce_flexible(1, TOPIC, 0, kproto.record_batch([(None, v) for v in values], ts)))
                _, parts, _ = kproto.parse_produce_flexible(c.recv_frame())
                assert parts[0]["error"] == 0, parts
        finally:
            c.close()
        cls.tid = topic_id(cls.broker.port, TOPIC)

    def tearDown(self):
        self.assertBrokerAlive()

    def test_advertised_ranges(self):
        _, err, apis = kproto.parse_api_versions_v0(round_trip(self.broker.port, kproto.api_versions_v0(1)))
        self.assertEqual(err, 0)
        # The group and transaction APIs reach down to v0: librdkafka 2.0.2 picks
        # FindCoordinator v0-2 and the transaction APIs' low versions from them.
        want = {0: (0, 12), 1: (4, 17), 2: (0, 10), 3: (0, 13), 8: (0, 9), 9: (0, 9), 10: (0, 4), 11: (0, 9),
                12: (0, 4), 13: (0, 5), 14: (0, 5), 15: (0, 6), 16: (0, 5), 18: (0, 4), 22: (0, 4), 24: (0, 5),
                25: (0, 3), 26: (0, 3), 28: (0, 3), 60: (0, 2), 75: (0, 0)}
        self.assertEqual({k: apis.get(k) for k in want}, want)

    def test_api_versions_v3_answers_with_response_header_v0(self):
        # ApiVersions is the one flexible API whose response header stays v0 (no
        # tagged fields after the correlation id): a client reads it before it
        # knows which versions the broker speaks.
        for version in (3, 4):
            with self.subTest(version=version):
                body = kproto.cstring("runnel-it") + kproto.cstring("1.0") + kproto.NO_TAGS
                r = kproto.Reader(round_trip(self.broker.port,
                                             kproto.frame(kproto.header_v2(18, version, 41) + body)))
                self.assertEqual(r.i32(), 41)
                self.assertEqual(r.i16(), 0)  # error_code, right after the correlation id
                apis = {}
                for _ in range(r.carray_len()):
                    key, low, high = r.i16(), r.i16(), r.i16()
                    r.tags()
                    apis[key] = (low, high)
                self.assertEqual(apis.get(18), (0, 4))
                self.assertEqual(apis.get(0), (0, 12))

    def test_metadata_v13_topic_id_and_error_code(self):
        md = kproto.parse_metadata_flexible(round_trip(self.broker.port, kproto.metadata_flexible(1, 13, [TOPIC])), 13)
        self.assertEqual(md["error"], 0)
        t = md["topics"][TOPIC]
        self.assertEqual(t["error"], 0)
        self.assertNotEqual(t["id"], bytes(16))
        # By id (v12+): the same topic, named.
        md = kproto.parse_metadata_flexible(
            round_trip(self.broker.port, kproto.metadata_flexible(2, 13, topic_ids=[t["id"]])), 13)
        self.assertEqual(list(md["topics"]), [TOPIC])

    def fetch(self, version, tid, offset=0, **kw):
        corr, error, parts, endpoints = kproto.parse_fetch_flexible(
            round_trip(self.broker.port, kproto.fetch_by_id(9, version, tid, 0, offset, **kw)), version)
        self.assertEqual((corr, error), (9, 0))
        self.assertEqual(len(parts), 1)
        return parts[0], endpoints

    def test_fetch_by_topic_id_every_new_version(self):
        for version in range(13, 18):
            with self.subTest(version=version):
                p, endpoints = self.fetch(version, self.tid)
                self.assertEqual(p["topic"], self.tid.hex())
                self.assertEqual((p["error"], p["hw"], p["lso"]), (0, 5, 5))
                self.assertEqual(kproto.batches(p["records"]), [(0, 2, 3), (3, 4, 2)])
                self.assertIsNone(p["current_leader"])
                self.assertEqual(endpoints, {})

    def test_fetch_unknown_topic_id(self):
        for version in (13, 16, 17):
            with self.subTest(version=version):
                t0 = time.time()
                p, _ = self.fetch(version, bytes(range(16)), max_wait_ms=3000)
                self.assertEqual(p["topic"], bytes(range(16)).hex())
                self.assertEqual(p["error"], UNKNOWN_TOPIC_ID)
                self.assertLess(time.time() - t0, 2.0, "an error is answered at once")
        # The all-zero id names no topic either.
        p, _ = self.fetch(13, bytes(16))
        self.assertEqual(p["error"], UNKNOWN_TOPIC_ID)

    def test_topic_created_again_has_a_new_id(self):
        topic = "newest-recreated"
        create_topic(self.bootstrap, topic)
        old = topic_id(self.broker.port, topic)
        a = admin(self.bootstrap)
        try:
            a.delete_topics([topic])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: self.fetch(13, old)[0]["error"] == UNKNOWN_TOPIC_ID, timeout=10))
        create_topic(self.bootstrap, topic)
        new = topic_id(self.broker.port, topic)
        self.assertNotEqual(new, old)
        # The old id names nothing; the new one is served.
        self.assertEqual(self.fetch(13, old)[0]["error"], UNKNOWN_TOPIC_ID)
        self.assertEqual(self.fetch(13, new)[0]["error"], 0)

    def test_fetch_v12_by_name_still_served(self):
        # v12 is what runnel's own followers and librdkafka >= 2.x flexible fetchers send.
        body = kproto.header_v2(1, 12, 3) + kproto.i32(-1) + kproto.i32(0) + kproto.i32(1) + kproto.i32(1 << 20)
        body += kproto.i8(0) + kproto.i32(0) + kproto.i32(-1)
        part = (kproto.i32(0) + kproto.i32(-1) + kproto.i64(3) + kproto.i32(-1) + kproto.i64(-1) + kproto.i32(1 << 20)
                + kproto.NO_TAGS)
        body += kproto.carray([kproto.cstring(TOPIC) + kproto.carray([part]) + kproto.NO_TAGS])
        body += kproto.carray([]) + kproto.cstring("") + kproto.NO_TAGS
        _, error, parts, _ = kproto.parse_fetch_flexible(round_trip(self.broker.port, kproto.frame(body)), 12)
        self.assertEqual((error, parts[0]["topic"], parts[0]["error"]), (0, TOPIC, 0))
        self.assertEqual(kproto.batches(parts[0]["records"]), [(3, 4, 2)])

    def test_produce_v9_to_v12_then_fetch_v16(self):
        topic = "newest-produce"
        create_topic(self.bootstrap, topic)
        for version in (9, 10, 11, 12):
            p, endpoints = produce(self.broker.port, topic, 0, [b"v%d" % version], version=version)
            self.assertEqual((p["error"], p["base_offset"]), (0, version - 9))
            self.assertIsNone(p["current_leader"], "no hint without an error")
            self.assertEqual(endpoints, {})
        p, _ = self.fetch(16, topic_id(self.broker.port, topic))
        self.assertEqual([b[0] for b in kproto.batches(p["records"])], [0, 1, 2, 3])

    def list_offsets(self, version, timestamp, topic=TOPIC):
        return kproto.parse_list_offsets_flexible(
            round_trip(self.broker.port, kproto.list_offsets_flexible(4, version, topic, 0, timestamp)))

    def test_list_offsets_special_timestamps(self):
        topic = "newest-offsets"
        create_topic(self.bootstrap, topic)
        now = int(time.time() * 1000)
        c = kproto.Conn(self.broker.port)
        try:
            for i, ts in enumerate((now - 5000, now + 1000, now - 1000, now)):
                c.send(kproto.produce_flexible(1, topic, 0, kproto.record_batch([(None, b"%d" % i)], ts)))
                self.assertEqual(kproto.parse_produce_flexible(c.recv_frame())[1][0]["error"], 0)
        finally:
            c.close()
        self.assertEqual(kproto.delete_records(self.broker.port, topic, 0, 1), (0, 1))
        for version in (8, 9, 10):
            with self.subTest(version=version):
                # -4 earliest local: the log start offset (nothing is tiered).
                err, ts, offset, _ = self.list_offsets(version, -4, topic)
                self.assertEqual((err, ts, offset), (0, -1, 1))
                self.assertEqual(self.list_offsets(version, -2, topic)[:3], (0, -1, 1))
                # -3 max timestamp (KIP-734): the record stamped now + 1 s.
                self.assertEqual(self.list_offsets(version, -3, topic)[:3], (0, now + 1000, 1))
                # -5 latest tiered (KIP-1005): nothing tiered, offset -1 and no error, as Kafka answers.
                self.assertEqual(self.list_offsets(version, -5, topic), (0, -1, -1, -1))
                self.assertEqual(self.list_offsets(version, -1, topic)[:3], (0, -1, 4))

    def dtp(self, topics, limit=2000, cursor=None):
        return kproto.parse_describe_topic_partitions(
            round_trip(self.broker.port, kproto.describe_topic_partitions(6, topics, limit, cursor)))

    def test_describe_topic_partitions_pages(self):
        md = kproto.parse_metadata_flexible(round_trip(self.broker.port, kproto.metadata_flexible(1, 13, [])), 13)
        (node,) = md["brokers"]  # a single node leads everything
        named = ["dtp-b", "dtp-a", "dtp-missing"]
        seen = []
        cursor = None
        pages = 0
        while True:
            topics, cursor = self.dtp(named, limit=2, cursor=cursor)
            pages += 1
            for t in topics:
                if t["name"] == "dtp-missing":
                    self.assertEqual((t["error"], t["id"], t["partitions"]), (UNKNOWN_TOPIC_OR_PARTITION, bytes(16), []))
                    continue
                self.assertEqual(t["error"], 0)
                self.assertNotEqual(t["id"], bytes(16))
                for p in t["partitions"]:
                    self.assertEqual((p["error"], p["leader"], p["replicas"], p["isr"]), (0, node, [node], [node]))
                    self.assertEqual((p["elr"], p["last_known_elr"], p["offline"]), ([], [], []))
                    seen.append((t["name"], p["index"]))
            if cursor is None:
                break
            self.assertLess(pages, 10)
        # Name order, two partitions a page: a0 a1 | a2 b0 | b1 (+ the missing topic's error).
        self.assertEqual(seen, [("dtp-a", 0), ("dtp-a", 1), ("dtp-a", 2), ("dtp-b", 0), ("dtp-b", 1)])
        self.assertEqual(pages, 3)
        topics, cursor = self.dtp(named, limit=2, cursor=("dtp-a", 2))
        self.assertEqual([(t["name"], [p["index"] for p in t["partitions"]]) for t in topics],
                         [("dtp-a", [2]), ("dtp-b", [0])])
        self.assertEqual(cursor, ("dtp-b", 1))
        # Every topic when none is named (and internal ones flagged); limit 0 still gives one partition.
        topics, cursor = self.dtp([], limit=0)
        self.assertEqual(len(topics), 1)
        self.assertEqual(len(topics[0]["partitions"]), 1)
        self.assertIsNotNone(cursor)
        # A cursor on a topic not asked for is an invalid request, on every topic asked for.
        topics, cursor = self.dtp(["dtp-b"], cursor=("dtp-a", 0))
        self.assertEqual([(t["name"], t["error"]) for t in topics], [("dtp-b", INVALID_REQUEST)])
        self.assertIsNone(cursor)

    def test_topic_id_survives_restart(self):
        self.broker.stop()
        self.broker.restart()
        self.assertEqual(topic_id(self.broker.port, TOPIC), self.tid)
        p, _ = self.fetch(13, self.tid)
        self.assertEqual(p["error"], 0)


class NewestGroupVersionsTest(BrokerTestCase):
    """OffsetCommit/OffsetFetch v9, ListGroups v5, DescribeGroups v6 and
    DescribeCluster v2 with classic groups, as Kafka 4.0 answers them."""

    def tearDown(self):
        self.assertBrokerAlive()

    def call(self, request):
        return round_trip(self.broker.port, request)

    def test_offsets_v9_and_group_listing(self):
        topic = "newest-groups"
        create_topic(self.bootstrap, topic)
        # A generation for a group that does not exist: v9 says GROUP_ID_NOT_FOUND, v8 ILLEGAL_GENERATION.
        self.assertEqual(kproto.parse_offset_commit_flexible(self.call(
            kproto.offset_commit_flexible(1, 9, "nobody", topic, 0, 5, generation=3, member_id="m"))),
            GROUP_ID_NOT_FOUND)
        self.assertEqual(kproto.parse_offset_commit_flexible(self.call(
            kproto.offset_commit_flexible(2, 8, "nobody", topic, 0, 5, generation=3, member_id="m"))),
            ILLEGAL_GENERATION)
        # Generation -1 (a simple consumer, member epoch -1 in v9 terms) commits, as before.
        self.assertEqual(kproto.parse_offset_commit_flexible(self.call(
            kproto.offset_commit_flexible(3, 9, "simple", topic, 0, 7))), 0)
        # OffsetFetch v9: a classic group ignores member id and epoch.
        self.assertEqual(kproto.parse_offset_fetch_v9(self.call(kproto.offset_fetch_v9(4, "simple", topic, 0))),
                         (0, 0, 7))
        self.assertEqual(kproto.parse_offset_fetch_v9(self.call(
            kproto.offset_fetch_v9(5, "simple", topic, 0, member_id="m", member_epoch=4))), (0, 0, 7))

        # ListGroups v5: every group is "classic"; filters are case-insensitive.
        err, groups = kproto.parse_list_groups_v5(self.call(kproto.list_groups_v5(6)))
        self.assertEqual(err, 0)
        self.assertEqual(groups.get("simple"), ("", "Empty", "classic"))
        _, groups = kproto.parse_list_groups_v5(self.call(kproto.list_groups_v5(7, types=["Classic"], states=["empty"])))
        self.assertIn("simple", groups)
        _, groups = kproto.parse_list_groups_v5(self.call(kproto.list_groups_v5(8, types=["consumer"])))
        self.assertEqual(groups, {})

        # DescribeGroups v6: an unknown group is GROUP_ID_NOT_FOUND with a message (KIP-1043).
        described = kproto.parse_describe_groups_v6(self.call(kproto.describe_groups_v6(9, ["simple", "nobody"])))
        self.assertEqual([(g["group"], g["error"], g["state"]) for g in described],
                         [("simple", 0, "Empty"), ("nobody", GROUP_ID_NOT_FOUND, "")])
        self.assertEqual(described[1]["message"], "Group nobody not found.")

    def test_describe_cluster_v2(self):
        d = kproto.parse_describe_cluster_v2(self.call(kproto.describe_cluster_v2(1)))
        self.assertEqual((d["error"], d["endpoint_type"]), (0, 1))
        self.assertEqual(len(d["brokers"]), 1)
        (host, port, _, fenced), = d["brokers"].values()
        self.assertEqual((host, port, fenced), ("127.0.0.1", self.broker.port, False))
        # Controllers are not described by a broker (Kafka's answers).
        d = kproto.parse_describe_cluster_v2(self.call(kproto.describe_cluster_v2(2, endpoint_type=2)))
        self.assertEqual(d["error"], MISMATCHED_ENDPOINT_TYPE)
        d = kproto.parse_describe_cluster_v2(self.call(kproto.describe_cluster_v2(3, endpoint_type=7)))
        self.assertEqual((d["error"], d["message"]), (UNSUPPORTED_ENDPOINT_TYPE, "Unsupported endpoint type 7"))


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class NewestVersionsClusterTest(unittest.TestCase):
    """KIP-951 leader hints from a broker that does not lead the partition."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3, sets={"broker.session.timeout.ms": 3000}).start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.cleanup()

    def test_leader_hint_and_topic_ids_agree(self):
        brokers = self.cluster.brokers
        topic = "hinted"
        kproto.metadata(brokers[1].port, [topic])  # auto-creates it

        def agreed():
            views = []
            for n, b in brokers.items():
                try:
                    md = kproto.parse_metadata_flexible(round_trip(b.port, kproto.metadata_flexible(1, 13, [topic])), 13)
                except (OSError, ValueError):
                    return None
                t = md["topics"].get(topic)
                if not t or t["error"] != 0 or t["partitions"][0][1] < 0:
                    return None
                views.append((t["id"], t["partitions"][0][1], t["partitions"][0][2], md["brokers"]))
            return views[0] if all(v[:3] == views[0][:3] for v in views) else None

        view = wait_for(agreed)
        self.assertTrue(view, "brokers disagree on the topic's id or leader")
        tid, leader, epoch, addresses = view
        self.assertNotEqual(tid, bytes(16))
        other = next(n for n in brokers if n != leader)
        port = brokers[other].port
        host, leader_port, _ = addresses[leader]

        # Produce v10/v11 to a non-leader: NOT_LEADER_OR_FOLLOWER, CurrentLeader and the leader's endpoint.
        for version in (10, 11):
            p, endpoints = produce(port, topic, 0, [b"x"], version=version)
            self.assertEqual(p["error"], NOT_LEADER_OR_FOLLOWER)
            self.assertEqual(p["current_leader"], (leader, epoch))
            self.assertEqual(endpoints, {leader: (host, leader_port, None)})
        # v9 has neither field.
        p, endpoints = produce(port, topic, 0, [b"x"], version=9)
        self.assertEqual((p["error"], p["current_leader"], endpoints), (NOT_LEADER_OR_FOLLOWER, None, {}))

        # Fetch v16/v17 by id from the non-leader: the same hint; v13-v15 none.
        for version in (13, 15, 16, 17):
            _, err, parts, endpoints = kproto.parse_fetch_flexible(
                round_trip(port, kproto.fetch_by_id(3, version, tid, 0, 0)), version)
            self.assertEqual((err, parts[0]["error"]), (0, NOT_LEADER_OR_FOLLOWER))
            if version >= 16:
                self.assertEqual(parts[0]["current_leader"], (leader, epoch))
                self.assertEqual(endpoints, {leader: (host, leader_port, None)})
            else:
                self.assertIsNone(parts[0]["current_leader"])
                self.assertEqual(endpoints, {})

        # The leader takes the produce, and serves it by the same id.
        p, _ = produce(brokers[leader].port, topic, 0, [b"y"], version=11)
        self.assertEqual(p["error"], 0)
        _, err, parts, _ = kproto.parse_fetch_flexible(
            round_trip(brokers[leader].port, kproto.fetch_by_id(4, 17, tid, 0, 0)), 17)
        self.assertEqual(parts[0]["error"], 0)
        self.assertEqual(len(kproto.batches(parts[0]["records"])), 1)


if __name__ == "__main__":
    unittest.main()
