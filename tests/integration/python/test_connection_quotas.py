"""Connection quotas, as Kafka's ConnectionQuotas: max.connections.per.ip
(and its overrides) closes the connection over the limit at once while the
others keep working; max.connections makes the broker stop accepting until a
connection closes or the limit is raised, with the inter-broker listener
exempt (KIP-402); both static (--set) and dynamic (AlterConfigs and
IncrementalAlterConfigs on the broker resource), with DescribeConfigs'
sources, and in a cluster through etcd. max.connection.creation.rate
(KIP-612) delays the accepts over the rate, again with the inter-broker
listener exempt from the broker-wide value. Also Kafka's rule that one change
may at most halve or double log.cleaner.threads. Plain sockets bound to
127.0.0.x (Linux routes all of 127/8 to loopback) and librdkafka clients
(confluent-kafka)."""
import socket
import struct
import time
import unittest

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

import kproto
from broker import Broker, free_port, metric
from cluster import Cluster, wait_for

BROKER = 4
SET, DELETE = 0, 1
INVALID_REQUEST = 42
DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT = 2, 3, 4, 5
UNLIMITED = "2147483647"
# The raw requests that change and read configs come from an address no test
# fills up (with an override of its own where a per-IP limit is set: a
# connection just closed by the client may not be released by the broker yet).
CONTROL = "127.0.0.9"


def connect(port, source="127.0.0.1", timeout=5.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


recv_exact = kproto.recv_exact


def answers(s, timeout=5.0):
    """ApiVersions on socket s: True when answered, False when the broker
    closed the connection; socket.timeout when there is no answer in time."""
    s.settimeout(timeout)
    try:
        s.sendall(kproto.api_versions_v0(7))
        n = struct.unpack(">i", recv_exact(s, 4))[0]
        payload = recv_exact(s, n)
    except (ConnectionError, BrokenPipeError, ConnectionResetError):
        return False
    return kproto.parse_api_versions_v0(payload)[:2] == (7, 0)


def incremental_alter(port, name, ops, source=CONTROL):
    """IncrementalAlterConfigs v0 on BROKER resource `name`; ops: [(key, op,
    value)]. -> (error_code, error_message)."""
    configs = kproto.i32(len(ops)) + b"".join(
        kproto.string(k) + kproto.i8(op) + kproto.string(v) for k, op, v in ops)
    body = kproto.i32(1) + kproto.i8(BROKER) + kproto.string(name) + configs + kproto.i8(0)
    s = connect(port, source)
    try:
        s.sendall(kproto.frame(kproto.header_v1(44, 0, 9) + body))
        n = struct.unpack(">i", recv_exact(s, 4))[0]
        p = recv_exact(s, n)[4 + 4:]  # correlation id, throttle
    finally:
        s.close()
    assert struct.unpack_from(">i", p, 0)[0] == 1
    err = struct.unpack_from(">h", p, 4)[0]
    mlen = struct.unpack_from(">h", p, 6)[0]
    return err, (p[8:8 + mlen].decode() if mlen >= 0 else None)


def describe(admin, name):
    """DescribeConfigs through librdkafka: {key: (value, source, read_only)}."""
    res = ConfigResource(ConfigResource.Type.BROKER, name)
    entries = admin.describe_configs([res])[res].result(10)
    return {k: (e.value, getattr(e.source, "value", e.source), e.is_read_only) for k, e in entries.items()}


def synonyms(port, name, key, source=CONTROL):
    """DescribeConfigs v1 with synonyms, raw (librdkafka keys synonyms by
    name, and every level of a broker key has the same name):
    [(name, value, source)] of `key`."""
    body = (kproto.i32(1) + kproto.i8(BROKER) + kproto.string(name) + kproto.i32(1) + kproto.string(key) +
            kproto.i8(1))
    s = connect(port, source)
    try:
        s.sendall(kproto.frame(kproto.header_v1(32, 1, 9) + body))
        n = struct.unpack(">i", recv_exact(s, 4))[0]
        p = recv_exact(s, n)
    finally:
        s.close()
    o = 8  # correlation id, throttle

    def take(fmt):
        nonlocal o
        v = struct.unpack_from(fmt, p, o)[0]
        o += struct.calcsize(fmt)
        return v

    def string():
        nonlocal o
        n = take(">h")
        if n < 0:
            return None
        v = p[o:o + n].decode()
        o += n
        return v

    assert take(">i") == 1
    assert take(">h") == 0, "error"
    string(), take(">b"), string()
    out = None
    for _ in range(take(">i")):
        k, _v, _ro, _src, _sens = string(), string(), take(">b"), take(">b"), take(">b")
        syn = [(string(), string(), take(">b")) for _ in range(take(">i"))]
        if k == key:
            out = syn
    return out


class PerIpQuotaTest(unittest.TestCase):
    """max.connections.per.ip=3 with 127.0.0.2 allowed 5, static."""

    @classmethod
    def setUpClass(cls):
        cls.admin_port = free_port()
        cls.broker = Broker(sets={"max.connections.per.ip": 3, "max.connections.per.ip.overrides": "127.0.0.2:5,127.0.0.9:1000",
                                  "node.id": 0, "log.cleaner.threads": 2,
                                  "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def setUp(self):
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()
        # Nothing dynamic left for the next test, whatever this one did.
        keys = ["max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
                "log.cleaner.threads"]
        incremental_alter(self.port, "", [(k, DELETE, None) for k in keys])
        incremental_alter(self.port, "0", [(k, DELETE, None) for k in keys])
        # Every connection of this test gone from the counts before the next.
        time.sleep(0.3)

    def open(self, source="127.0.0.1"):
        s = connect(self.port, source)
        self.sockets.append(s)
        return s

    def test_per_ip_limit_and_override(self):
        held = [self.open() for _ in range(3)]
        self.assertTrue(all(answers(s) for s in held))
        before = metric(self.admin_port, 'runnel_connections_rejected_total{listener="PLAINTEXT",reason="per_ip"}')
        self.assertFalse(answers(self.open()))  # the fourth from 127.0.0.1: closed at once
        self.assertTrue(all(answers(s) for s in held))  # the others keep working
        self.assertIn("Rejected connection from 127.0.0.1", self.broker.log())
        after = metric(self.admin_port, 'runnel_connections_rejected_total{listener="PLAINTEXT",reason="per_ip"}')
        self.assertEqual(after, before + 1)
        # 127.0.0.2 has its override: five, not three.
        other = [self.open("127.0.0.2") for _ in range(5)]
        self.assertTrue(all(answers(s) for s in other))
        self.assertFalse(answers(self.open("127.0.0.2")))
        # 127.0.0.3 has the default.
        third = [self.open("127.0.0.3") for _ in range(3)]
        self.assertTrue(all(answers(s) for s in third))
        self.assertFalse(answers(self.open("127.0.0.3")))
        # One closes: a slot for that address again.
        held[0].close()
        time.sleep(0.3)
        self.assertTrue(answers(self.open()))

    def test_librdkafka_client_keeps_working_when_the_next_is_refused(self):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 0})
        try:
            p.produce("quota-t", b"first")
            self.assertEqual(p.flush(15), 0)
            # Fill 127.0.0.1's remaining slots with plain sockets, until one
            # is refused.
            refused = False
            for _ in range(3):
                if not answers(self.open()):
                    refused = True
                    break
            self.assertTrue(refused)
            # Another librdkafka client from 127.0.0.1 gets nowhere...
            a = AdminClient({"bootstrap.servers": self.broker.bootstrap})
            with self.assertRaises(KafkaException):
                a.list_topics(timeout=2)
            del a  # destroyed now: it would keep trying from 127.0.0.1
            # ...while the first keeps producing on its connections.
            for i in range(20):
                p.produce("quota-t", b"more-%d" % i)
            self.assertEqual(p.flush(15), 0)
        finally:
            p.flush(5)
            del p

    def test_dynamic_change_and_describe(self):
        a = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        d = describe(a, "0")
        self.assertEqual(d["max.connections.per.ip"], ("3", STATIC, False))
        self.assertEqual(d["max.connections.per.ip.overrides"], ("127.0.0.2:5,127.0.0.9:1000", STATIC, False))
        self.assertEqual(d["max.connections"], (UNLIMITED, DEFAULT, False))
        self.assertEqual(synonyms(self.port, "0", "max.connections.per.ip"),
                         [("max.connections.per.ip", "3", STATIC), ("max.connections.per.ip", UNLIMITED, DEFAULT)])
        # Raised for every broker (the cluster default), with the overrides
        # moved to 127.0.0.4; IncrementalAlterConfigs.
        self.assertEqual(incremental_alter(self.port, "", [("max.connections.per.ip", SET, "4"),
                                                           ("max.connections.per.ip.overrides", SET,
                                                            "127.0.0.4:1,127.0.0.9:1000")]), (0, None))
        d = describe(a, "0")
        self.assertEqual(d["max.connections.per.ip"][:2], ("4", DYNAMIC_DEFAULT))
        self.assertEqual([x[2] for x in synonyms(self.port, "0", "max.connections.per.ip")],
                         [DYNAMIC_DEFAULT, STATIC, DEFAULT])
        # The cluster default's own description lists only what is set there
        # (raw: librdkafka refuses the resource name "").
        self.assertEqual(synonyms(self.port, "", "max.connections.per.ip"),
                         [("max.connections.per.ip", "4", DYNAMIC_DEFAULT), ("max.connections.per.ip", "3", STATIC),
                          ("max.connections.per.ip", UNLIMITED, DEFAULT)])
        self.assertIsNone(synonyms(self.port, "", "max.connections"))
        held = [self.open("127.0.0.5") for _ in range(4)]
        self.assertTrue(all(answers(s) for s in held))
        self.assertFalse(answers(self.open("127.0.0.5")))
        self.assertTrue(answers(self.open("127.0.0.4")))
        self.assertFalse(answers(self.open("127.0.0.4")))
        # Lowered for this broker (legacy AlterConfigs through librdkafka):
        # the four open connections stay; a new one is refused.
        res = ConfigResource(ConfigResource.Type.BROKER, "0", set_config={"max.connections.per.ip": "2"})
        a.alter_configs([res])[res].result(10)
        self.assertEqual(describe(a, "0")["max.connections.per.ip"][1], DYNAMIC_BROKER)
        self.assertTrue(all(answers(s) for s in held))
        self.assertFalse(answers(self.open("127.0.0.5")))
        # Kafka's validation: INVALID_REQUEST, nothing changes.
        self.assertEqual(incremental_alter(self.port, "0", [("max.connections.per.ip", SET, "-1")]),
                         (INVALID_REQUEST, "Invalid value -1 for configuration max.connections.per.ip: "
                                           "Value must be at least 0"))
        self.assertEqual(incremental_alter(self.port, "", [("max.connections", SET, "0")]),
                         (INVALID_REQUEST, "Invalid max.connections 0"))
        self.assertEqual(incremental_alter(self.port, "", [("max.connections.per.ip.overrides", SET, "x")])[0],
                         INVALID_REQUEST)
        # Back to the static settings.
        self.assertEqual(incremental_alter(self.port, "0", [("max.connections.per.ip", DELETE, None)])[0], 0)
        self.assertEqual(incremental_alter(self.port, "", [("max.connections.per.ip", DELETE, None),
                                                           ("max.connections.per.ip.overrides", DELETE, None)])[0], 0)
        self.assertEqual(describe(a, "0")["max.connections.per.ip"][1], STATIC)

    def test_cleaner_threads_at_most_halve_or_double(self):
        # Started with 2 threads: 5 is more than double, 0 is less than one.
        self.assertEqual(incremental_alter(self.port, "0", [("log.cleaner.threads", SET, "5")]),
                         (INVALID_REQUEST, "Log cleaner threads cannot be increased to more than double the "
                                           "current value 2"))
        self.assertEqual(incremental_alter(self.port, "", [("log.cleaner.threads", SET, "0")]),
                         (INVALID_REQUEST, "Log cleaner threads should be at least 1"))
        self.assertEqual(incremental_alter(self.port, "", [("log.cleaner.threads", SET, "4")]), (0, None))
        self.assertEqual(incremental_alter(self.port, "0", [("log.cleaner.threads", SET, "1")]),
                         (INVALID_REQUEST, "Log cleaner threads cannot be reduced to less than half the "
                                           "current value 4"))
        self.assertEqual(incremental_alter(self.port, "0", [("log.cleaner.threads", SET, "2")]), (0, None))
        self.assertEqual(incremental_alter(self.port, "0", [("log.cleaner.threads", DELETE, None)]), (0, None))
        self.assertEqual(incremental_alter(self.port, "", [("log.cleaner.threads", DELETE, None)]), (0, None))


def closed_by_broker(s, timeout=5.0):
    """True when the broker closes socket s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class BrokerWideMaxTest(unittest.TestCase):
    """max.connections=3 (static) with a second, inter-broker listener that
    has its own listener limit (else max.connections would cap it too). One
    shard: each shard closes its own least recently used connection (as each
    of Kafka's processors does), so with one the choice is known."""

    def setUp(self):
        self.internal_port = free_port()
        self.admin_port = free_port()
        self.broker = Broker(sets={
            "max.connections": 3, "node.id": 0, "listener.name.internal.max.connections": 100,
            "listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:%d" % self.internal_port,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL", "runnel.shards": 1,
            "runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}).start()
        self.port = self.broker.port

    def tearDown(self):
        self.broker.cleanup_expecting_alive()

    def excess_closed(self):
        return metric(self.admin_port, 'runnel_connections_excess_closed_total{listener="PLAINTEXT"}')

    def test_blocks_until_a_slot_frees_or_the_limit_rises(self):
        sockets = []
        try:
            held = [connect(self.port) for _ in range(3)]
            sockets += held
            self.assertTrue(all(answers(s) for s in held))
            # The fourth: TCP connects (the kernel's backlog), but the broker
            # does not take it on, nor close it.
            waiting = connect(self.port)
            sockets.append(waiting)
            with self.assertRaises(socket.timeout):
                answers(waiting, timeout=1.5)
            held[0].close()
            # The answer to the request sent while it waited.
            n = struct.unpack(">i", recv_exact(waiting, 4))[0]
            self.assertEqual(kproto.parse_api_versions_v0(recv_exact(waiting, n))[:2], (7, 0))
            # Full again; the next one waits.
            waiting2 = connect(self.port)
            sockets.append(waiting2)
            with self.assertRaises(socket.timeout):
                answers(waiting2, timeout=1.0)
            # The inter-broker listener is exempt (KIP-402): a connection
            # there is served, and takes the broker over max.connections, so
            # the other listener closes its least recently used connection
            # (held[1]: quiet since the start), as Kafka's processors do.
            probe = connect(self.internal_port)
            self.assertTrue(answers(probe))
            self.assertTrue(closed_by_broker(held[1]))
            self.assertEqual(self.excess_closed(), 1)
            self.assertTrue(answers(held[2]))
            probe.close()
            # A slot frees: the waiting one is in.
            n = struct.unpack(">i", recv_exact(waiting2, 4))[0]
            self.assertEqual(kproto.parse_api_versions_v0(recv_exact(waiting2, n))[:2], (7, 0))
            # An admin client there raises the limit (its connection closes
            # the least recently used one again: waiting, quiet since it was
            # answered).
            internal = "127.0.0.1:%d" % self.internal_port
            self.assertEqual(incremental_alter(self.internal_port, "0", [("max.connections", SET, "5")]), (0, None))
            self.assertTrue(closed_by_broker(waiting))
            self.assertEqual(self.excess_closed(), 2)
            a = AdminClient({"bootstrap.servers": internal})
            d = describe(a, "0")
            self.assertEqual(d["max.connections"][:2], ("5", DYNAMIC_BROKER))
            self.assertEqual([x[1:] for x in synonyms(self.internal_port, "0", "max.connections")],
                             [("5", DYNAMIC_BROKER), ("3", STATIC), (UNLIMITED, DEFAULT)])
            # A per-listener limit below it, dynamically, for PLAINTEXT only.
            self.assertEqual(incremental_alter(self.internal_port, "", [
                ("listener.name.plaintext.max.connections", SET, "2")]), (0, None))
            self.assertEqual(describe(a, "0")["listener.name.plaintext.max.connections"][0], "2")
            # Its synonyms: itself, then max.connections' levels.
            self.assertEqual(synonyms(self.internal_port, "0", "listener.name.plaintext.max.connections"),
                             [("listener.name.plaintext.max.connections", "2", DYNAMIC_DEFAULT),
                              ("max.connections", "5", DYNAMIC_BROKER), ("max.connections", "3", STATIC),
                              ("max.connections", UNLIMITED, DEFAULT)])
            open_now = [held[2], waiting2]
            self.assertTrue(all(answers(s) for s in open_now))
            sockets.append(connect(self.port))  # a third PLAINTEXT connection: over the listener's 2
            with self.assertRaises(socket.timeout):
                answers(sockets[-1], timeout=1.0)
            # Kafka's rule: max.connections.per.ip 0 needs overrides.
            err, msg = incremental_alter(self.internal_port, "0", [("max.connections.per.ip", SET, "0")])
            self.assertEqual((err, msg), (INVALID_REQUEST, "requirement failed: max.connections.per.ip can be set to "
                                                           "zero only if max.connections.per.ip.overrides property is "
                                                           "set."))
            # Lowering a listener's limit closes nothing: both still answer.
            self.assertEqual(incremental_alter(self.internal_port, "", [
                ("listener.name.plaintext.max.connections", SET, "1")]), (0, None))
            self.assertTrue(all(answers(s) for s in open_now))
            # Lowering max.connections below the count closes the other
            # listener's connections, least recently used first, while the
            # count is over it (the admin client's connections on the
            # inter-broker listener are not closed).
            self.assertEqual(incremental_alter(self.internal_port, "0", [("max.connections", SET, "1")]), (0, None))
            self.assertTrue(all(closed_by_broker(s) for s in open_now))
            self.assertGreaterEqual(self.excess_closed(), 4)
            self.assertEqual(describe(a, "0")["max.connections"][0], "1")
            self.assertEqual(incremental_alter(self.internal_port, "", [
                ("listener.name.plaintext.max.connections", DELETE, None)]), (0, None))
            self.assertEqual(incremental_alter(self.internal_port, "0", [("max.connections", DELETE, None)]),
                             (0, None))
        finally:
            for s in sockets:
                s.close()
        self.assertTrue(self.broker.alive())


class ClusterQuotaTest(unittest.TestCase):
    def test_cluster_default_set_through_one_broker_applies_on_another(self):
        with Cluster(2) as c:
            port = {n: c.brokers[n].port for n in c.brokers}
            self.assertEqual(incremental_alter(port[1], "", [("max.connections.per.ip.overrides", SET,
                                                              "127.0.0.6:1")]), (0, None))

            def refused_on_2():
                first = connect(port[2], "127.0.0.6")
                try:
                    if not answers(first):
                        return False
                    second = connect(port[2], "127.0.0.6")
                    try:
                        return not answers(second)
                    finally:
                        second.close()
                finally:
                    first.close()
                    time.sleep(0.2)  # released before the next try

            # Broker 2 takes it from etcd's watch.
            self.assertTrue(wait_for(refused_on_2, timeout=10))
            self.assertEqual(synonyms(port[2], "2", "max.connections.per.ip.overrides")[0],
                             ("max.connections.per.ip.overrides", "127.0.0.6:1", DYNAMIC_DEFAULT))
            for b in c.brokers.values():
                self.assertTrue(b.alive(), b.log())


class CreationRateTest(unittest.TestCase):
    """max.connection.creation.rate=2 (static): Kafka's windowed rate lets a
    quiet listener take ten seconds' worth (20) at once, then the accept loop
    waits before each next connection (up to one 1 s window each). The
    inter-broker listener, with a loose rate of its own, is exempt from the
    broker-wide one."""

    @classmethod
    def setUpClass(cls):
        cls.internal_port = free_port()
        cls.admin_port = free_port()
        cls.broker = Broker(sets={
            "max.connection.creation.rate": 2, "node.id": 0,
            "listener.name.internal.max.connection.creation.rate": 1000,
            "listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:%d" % cls.internal_port,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "runnel.admin.listen": "127.0.0.1:%d" % cls.admin_port}).start()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def throttled(self, listener):
        return metric(self.admin_port, 'runnel_connections_rate_throttled_total{listener="%s"}' % listener)

    def test_accepts_over_the_rate_wait_and_the_inter_broker_listener_does_not(self):
        sockets = []
        try:
            # The burst: twenty answer at once (18 here: the helper's own
            # probe of the port when the broker started counts too).
            start = time.monotonic()
            for _ in range(18):
                s = connect(self.port)
                sockets.append(s)
                self.assertTrue(answers(s, timeout=5))
            self.assertLess(time.monotonic() - start, 5.0)
            self.assertEqual(self.throttled("PLAINTEXT"), 0)
            # Six more: from the 21st on, each accept waits (0.5 s, then
            # about 1 s each).
            start = time.monotonic()
            for _ in range(6):
                s = connect(self.port)
                sockets.append(s)
                self.assertTrue(answers(s, timeout=10))
            self.assertGreater(time.monotonic() - start, 2.0)
            self.assertGreaterEqual(self.throttled("PLAINTEXT"), 3)
            # The inter-broker listener is not held by the broker-wide rate.
            start = time.monotonic()
            for _ in range(25):
                s = connect(self.internal_port)
                sockets.append(s)
                self.assertTrue(answers(s, timeout=5))
            self.assertLess(time.monotonic() - start, 2.0)
            self.assertEqual(self.throttled("INTERNAL"), 0)
        finally:
            for s in sockets:
                s.close()

    def test_dynamic_rate_is_checked_and_described(self):
        err, msg = incremental_alter(self.internal_port, "0", [("max.connection.creation.rate", SET, "0")])
        self.assertEqual((err, msg), (INVALID_REQUEST, "Invalid max.connection.creation.rate 0"))
        self.assertEqual(incremental_alter(self.internal_port, "0",
                                           [("max.connection.creation.rate", SET, "1000")])[0], 0)
        try:
            levels = synonyms(self.internal_port, "0", "max.connection.creation.rate")
            self.assertEqual([(v, src) for _, v, src in levels],
                             [("1000", DYNAMIC_BROKER), ("2", STATIC), (UNLIMITED, DEFAULT)])
            levels = synonyms(self.internal_port, "0", "listener.name.internal.max.connection.creation.rate")
            self.assertEqual(levels[0], ("listener.name.internal.max.connection.creation.rate", "1000", STATIC))
            self.assertEqual(levels[1][0], "max.connection.creation.rate")
        finally:
            self.assertEqual(incremental_alter(self.internal_port, "0",
                                               [("max.connection.creation.rate", DELETE, "")])[0], 0)


if __name__ == "__main__":
    unittest.main()
