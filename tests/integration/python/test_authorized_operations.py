"""The "authorized operations" fields (KIP-430), over raw requests on a SASL
connection as a principal with ACLs: Metadata's topic_authorized_operations
(v8+) and cluster_authorized_operations (v8-10), DescribeCluster's,
DescribeGroups' and DescribeTopicPartitions'. Each is Kafka's bit field (bit
`code` per AclOperation) of the operations supported on the resource that the
principal may do, as Kafka's AuthHelper.authorizedOperations computes it:
implied operations included, DENY over ALLOW, 0 for the cluster without
DESCRIBE on it, every supported operation for a super user; and Kafka's "not
requested" value (INT32_MIN) when the request does not ask or the resource
was refused."""
import unittest

from kafka.admin import ACLOperation, ACLPermissionType, ACLResourcePatternType, NewTopic, ResourceType

import kproto
from test_acls import USERS, acl, kp_admin, secured_broker

NOT_REQUESTED = -2147483648
TOPIC_AUTHORIZATION_FAILED = 29

READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12


def bits(*codes):
    v = 0
    for c in codes:
        v |= 1 << c
    return v


ALL_TOPIC = bits(READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS)
ALL_CLUSTER = bits(CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE)
ALL_GROUP = bits(READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS)


class Session:
    """A raw connection to the SASL_PLAINTEXT listener, logged in with PLAIN."""

    def __init__(self, port, user):
        self.c = kproto.Conn(port, timeout=10)
        self.corr = 0
        self.c.send(kproto.frame(kproto.header_v1(17, 1, self.next()) + kproto.string("PLAIN")))
        r = kproto.Reader(self.c.recv_frame())
        assert (r.i32(), r.i16()) == (self.corr, 0)
        token = b"\0" + user.encode() + b"\0" + USERS[user].encode()
        self.c.send(kproto.frame(kproto.header_v1(36, 1, self.next()) + kproto.nbytes(token)))
        r = kproto.Reader(self.c.recv_frame())
        assert (r.i32(), r.i16()) == (self.corr, 0), "login failed"

    def next(self):
        self.corr += 1
        return self.corr

    def call(self, make):
        self.c.send(make(self.next()))
        return self.c.recv_frame()

    def close(self):
        self.c.close()


class AuthorizedOperationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = secured_broker(sets={"allow.everyone.if.no.acl.found": "false"}).start()
        cls.port = int(cls.broker.sasl.rsplit(":", 1)[1])
        admin = kp_admin(cls.broker.sasl)
        try:
            admin.create_topics([NewTopic(t, 1, 1) for t in ("orders", "order-lines", "secret")])
            admin.create_acls([
                acl("User:alice", ACLOperation.READ, ResourceType.TOPIC, "orders"),
                acl("User:alice", ACLOperation.ALTER_CONFIGS, ResourceType.TOPIC, "orders"),
                acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "ord", ACLResourcePatternType.PREFIXED),
                acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "orders",
                    permission=ACLPermissionType.DENY),
                acl("User:alice", ACLOperation.READ, ResourceType.GROUP, "g1"),
                acl("User:alice", ACLOperation.DESCRIBE, ResourceType.CLUSTER, "kafka-cluster"),
                acl("User:alice", ACLOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, "kafka-cluster"),
                # bob: no DESCRIBE on the cluster, so its cluster operations are 0.
                acl("User:bob", ACLOperation.ALTER_CONFIGS, ResourceType.CLUSTER, "kafka-cluster"),
                acl("User:bob", ACLOperation.DESCRIBE, ResourceType.TOPIC, "orders"),
            ])
        finally:
            admin.close()
        # g1 exists (Empty, with a committed offset), as the super user made it.
        s = Session(cls.port, "admin")
        try:
            error = kproto.parse_offset_commit_flexible(
                s.call(lambda corr: kproto.offset_commit_flexible(corr, 8, "g1", "orders", 0, 0)))
            assert error == 0, error
        finally:
            s.close()

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()

    def session(self, user):
        s = Session(self.port, user)
        self.addCleanup(s.close)
        return s

    def metadata(self, s, version, topics=None, cluster=False, topic_ops=False):
        return kproto.parse_metadata_flexible(
            s.call(lambda corr: kproto.metadata_flexible(corr, version, topics, include_cluster_ops=cluster,
                                                         include_topic_ops=topic_ops)), version)

    def test_metadata(self):
        alice = self.session("alice")
        md = self.metadata(alice, 10, cluster=True, topic_ops=True)
        self.assertEqual(sorted(md["topics"]), ["order-lines", "orders"])  # not secret
        # READ (and DESCRIBE), ALTER_CONFIGS (and DESCRIBE_CONFIGS); WRITE denied.
        self.assertEqual(md["topics"]["orders"]["ops"], bits(READ, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS))
        self.assertEqual(md["topics"]["order-lines"]["ops"], bits(WRITE, DESCRIBE))
        self.assertEqual(md["cluster_ops"], bits(DESCRIBE, IDEMPOTENT_WRITE))
        # Not asked: Kafka's "not requested" value.
        md = self.metadata(alice, 10)
        self.assertEqual(md["topics"]["orders"]["ops"], NOT_REQUESTED)
        self.assertEqual(md["cluster_ops"], NOT_REQUESTED)
        # v12: topics only (v11+ has no cluster field); a refused topic keeps the default.
        md = self.metadata(alice, 12, topics=["orders", "secret"], topic_ops=True)
        self.assertEqual(md["topics"]["orders"]["ops"], bits(READ, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS))
        self.assertEqual(md["topics"]["secret"]["error"], TOPIC_AUTHORIZATION_FAILED)
        self.assertEqual(md["topics"]["secret"]["ops"], NOT_REQUESTED)
        # bob: ALTER_CONFIGS on the cluster but no DESCRIBE: 0.
        md = self.metadata(self.session("bob"), 9, cluster=True, topic_ops=True)
        self.assertEqual(md["cluster_ops"], 0)
        self.assertEqual(md["topics"]["orders"]["ops"], bits(DESCRIBE))
        # The super user: everything supported.
        md = self.metadata(self.session("admin"), 10, cluster=True, topic_ops=True)
        self.assertEqual(md["cluster_ops"], ALL_CLUSTER)
        self.assertLessEqual({"orders", "order-lines", "secret"}, set(md["topics"]))  # and __consumer_offsets
        self.assertEqual({v["ops"] for v in md["topics"].values()}, {ALL_TOPIC})

    def test_describe_cluster(self):
        describe = lambda s, include: kproto.parse_describe_cluster_v2(
            s.call(lambda corr: kproto.describe_cluster_v2(corr, include_cluster_ops=include)))
        alice = self.session("alice")
        self.assertEqual(describe(alice, True)["cluster_ops"], bits(DESCRIBE, IDEMPOTENT_WRITE))
        self.assertEqual(describe(alice, False)["cluster_ops"], NOT_REQUESTED)
        self.assertEqual(describe(self.session("bob"), True)["cluster_ops"], 0)
        self.assertEqual(describe(self.session("admin"), True)["cluster_ops"], ALL_CLUSTER)

    def test_describe_groups(self):
        alice = self.session("alice")
        describe = lambda include: kproto.parse_describe_groups_v6(
            alice.call(lambda corr: kproto.describe_groups_v6(corr, ["g1", "g2"], include_ops=include)))
        g1, g2 = describe(True)
        self.assertEqual((g1["group"], g1["error"], g1["state"]), ("g1", 0, "Empty"))
        self.assertEqual(g1["ops"], bits(READ, DESCRIBE))
        self.assertEqual((g2["group"], g2["error"], g2["ops"]), ("g2", 30, NOT_REQUESTED))  # GROUP_AUTHORIZATION_FAILED
        self.assertEqual(describe(False)[0]["ops"], NOT_REQUESTED)
        admin = self.session("admin")
        [g1] = kproto.parse_describe_groups_v6(admin.call(lambda corr: kproto.describe_groups_v6(corr, ["g1"], True)))
        self.assertEqual(g1["ops"], ALL_GROUP)

    def test_describe_topic_partitions(self):
        alice = self.session("alice")
        topics, _ = kproto.parse_describe_topic_partitions(
            alice.call(lambda corr: kproto.describe_topic_partitions(corr, ["order-lines", "orders", "secret"])))
        by_name = {t["name"]: t for t in topics}
        self.assertEqual(by_name["orders"]["ops"], bits(READ, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS))
        self.assertEqual(by_name["order-lines"]["ops"], bits(WRITE, DESCRIBE))
        self.assertEqual((by_name["secret"]["error"], by_name["secret"]["ops"]),
                         (TOPIC_AUTHORIZATION_FAILED, NOT_REQUESTED))


if __name__ == "__main__":
    unittest.main()
