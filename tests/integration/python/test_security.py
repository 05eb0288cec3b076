"""Listeners, SASL and TLS: kafka-python and confluent-kafka (librdkafka) over
SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL, SASL_SSL and mutual
TLS; re-authentication (KIP-368); the failures (wrong password, unknown user, untrusted certificate,
plaintext on a TLS port, requests before authentication) each fail clearly and
the broker keeps serving everyone else; SCRAM credentials managed with
`runnel user` and with AlterUserScramCredentials/DescribeUserScramCredentials;
the command-line tools over each protocol with a Kafka client properties
file (`--command-config`)."""
import hashlib
import hmac
import os
import subprocess
import tempfile
import time
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient

import kproto
from broker import Broker, free_port, wait_port
from helpers import consumer, create_topic, producer
from jks_store import make_jks_stores
from tls_certs import KEY_PASSWORD, make_certs

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
BAD_PASSWORD = "Not-The-Password-7f3a"


def runnel(*args):
    return subprocess.run([os.environ["RUNNEL_BIN"], *args], capture_output=True, text=True, timeout=30)


def salted_password(mechanism, password, salt, iterations):
    name = "sha256" if mechanism == "SCRAM-SHA-256" else "sha512"
    return hashlib.pbkdf2_hmac(name, password.encode(), salt, iterations)


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        cls.certs = make_certs(cls.tmp)
        cls.ports = {name: free_port() for name in ("SASL_PLAINTEXT", "SSL", "SASL_SSL")}
        listeners = ",".join("%s://127.0.0.1:%d" % (n, p) for n, p in cls.ports.items())
        cls.broker = Broker(sets={
            "listeners": listeners,
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": cls.certs["server-keystore.pem"],
            "ssl.key.password": KEY_PASSWORD,
            "ssl.truststore.location": cls.certs["ca.pem"],
            "ssl.client.auth": "requested",
            "connection.failed.authentication.delay.ms": 200,
        })
        # Offline, before the first start, as kafka-storage.sh --add-scram does.
        for user, password in USERS.items():
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                r = runnel("user", "set", user, "--password", password, "--mechanism", mechanism, "--data-dir",
                           cls.broker.data_dir)
                assert r.returncode == 0, r.stderr
        cls.broker.start()
        for p in cls.ports.values():
            assert wait_port(p, 10.0), "listener %d did not open" % p
        cls.plain = cls.broker.bootstrap

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup_expecting_alive()

    def tearDown(self):
        self.assertTrue(self.broker.alive(), self.broker.log())

    def addr(self, listener):
        return "127.0.0.1:%d" % self.ports[listener]

    # --- the command-line tools with --command-config ---------------------------

    def properties(self, name, **props):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("# as kafka-topics.sh --command-config takes it\n")
            f.write("".join("%s=%s\n" % kv for kv in props.items()))
        return path

    def test_command_line_tools_over_each_protocol(self):
        jks = make_jks_stores(self.certs, tempfile.mkdtemp(dir=self.tmp), "trust-pass", "key-pass")
        with open(self.certs["client.key"]) as key, open(self.certs["client.pem"]) as cert, \
                open(os.path.join(self.tmp, "client-keystore.pem"), "w") as out:
            out.write(key.read() + cert.read())
        ssl_props = self.properties("ssl.properties", **{
            "security.protocol": "SSL", "ssl.truststore.type": "JKS", "ssl.truststore.location": jks["trust.jks"],
            "ssl.truststore.password": "trust-pass",
            "ssl.keystore.location": os.path.join(self.tmp, "client-keystore.pem")})
        scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="%s";'
        sasl_ssl_props = self.properties("sasl-ssl.properties", **{
            "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": scram % USERS["alice"], "ssl.truststore.location": self.certs["ca.pem"]})
        sasl_props = self.properties("sasl.properties", **{
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required '
                                'username="bob" password="%s";' % USERS["bob"]})
        ssl, sasl_ssl, sasl = self.addr("SSL"), self.addr("SASL_SSL"), self.addr("SASL_PLAINTEXT")
        r = runnel("topic", "create", "cli-secured", "--partitions", "2", "--bootstrap", ssl, "--command-config",
                   ssl_props)
        self.assertEqual(r.returncode, 0, r.stderr)
        produced = subprocess.run([os.environ["RUNNEL_BIN"], "produce", "cli-secured", "--bootstrap", sasl_ssl,
                                   "--command-config", sasl_ssl_props], input="one\ntwo\n", capture_output=True,
                                  text=True, timeout=30)
        self.assertEqual(produced.returncode, 0, produced.stderr)
        r = runnel("consume", "cli-secured", "-c", "2", "--bootstrap", ssl, "--command-config", ssl_props)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.split()), ["one", "two"])
        for address, props in ((ssl, ssl_props), (sasl_ssl, sasl_ssl_props), (sasl, sasl_props)):
            r = runnel("topic", "list", "--bootstrap", address, "--command-config", props)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("cli-secured", r.stdout)
        # Without the file a TLS port is closed on the tools.
        self.assertNotEqual(runnel("topic", "list", "--bootstrap", ssl).returncode, 0)
        # What the tools cannot honour says so, with usage status 2; a refused login fails the command.
        for props, expected in (({"security.protocol": "SSL"}, "needs ssl.truststore.location"),
                                ({"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI",
                                  "sasl.username": "alice"}, "sasl.mechanism=GSSAPI"),
                                ({"security.protocol": "TLS"}, "security.protocol=TLS")):
            r = runnel("topic", "list", "--bootstrap", ssl, "--command-config", self.properties("bad.properties", **props))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(expected, r.stderr)
        wrong = self.properties("wrong.properties", **{
            "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": scram % BAD_PASSWORD, "ssl.truststore.location": self.certs["ca.pem"]})
        r = runnel("topic", "list", "--bootstrap", sasl_ssl, "--command-config", wrong)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("SASL login", r.stderr)

    # --- kafka-python ---------------------------------------------------------

    def kafka_python_roundtrip(self, listener, topic, **security):
        create_topic(self.plain, topic)
        p = producer(self.addr(listener), acks="all", **security)
        for i in range(5):
            p.send(topic, value=b"v%d" % i, partition=0)
        p.flush(10)
        p.close(5)
        c = consumer(self.addr(listener), **security)
        try:
            c.assign([kproto_tp(topic)])
            got = []
            deadline = time.time() + 15
            while len(got) < 5 and time.time() < deadline:
                for recs in c.poll(timeout_ms=200).values():
                    got.extend(r.value for r in recs)
            self.assertEqual(got, [b"v%d" % i for i in range(5)])
        finally:
            c.close()

    def test_kafka_python_sasl_plaintext(self):
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            with self.subTest(mechanism=mechanism):
                self.kafka_python_roundtrip("SASL_PLAINTEXT", "kp_sasl_" + mechanism.replace("-", "_").lower(),
                                            security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                                            sasl_plain_username="alice", sasl_plain_password=USERS["alice"])

    def test_kafka_python_ssl(self):
        self.kafka_python_roundtrip("SSL", "kp_ssl", security_protocol="SSL", ssl_cafile=self.certs["ca.pem"])

    def test_kafka_python_mutual_tls(self):
        self.kafka_python_roundtrip("SSL", "kp_mtls", security_protocol="SSL", ssl_cafile=self.certs["ca.pem"],
                                    ssl_certfile=self.certs["client.pem"], ssl_keyfile=self.certs["client.key"])

    def test_kafka_python_sasl_ssl(self):
        self.kafka_python_roundtrip("SASL_SSL", "kp_sasl_ssl", security_protocol="SASL_SSL",
                                    ssl_cafile=self.certs["ca.pem"], sasl_mechanism="SCRAM-SHA-512",
                                    sasl_plain_username="bob", sasl_plain_password=USERS["bob"])

    # --- confluent-kafka (librdkafka) ------------------------------------------

    def conf(self, listener, **extra):
        c = {"bootstrap.servers": self.addr(listener), "security.protocol": listener,
             "socket.timeout.ms": 10000, "reconnect.backoff.max.ms": 500}
        if "SSL" in listener:
            c["ssl.ca.location"] = self.certs["ca.pem"]
        c.update(extra)
        return c

    def sasl(self, mechanism, user="alice", password=None):
        return {"sasl.mechanisms": mechanism, "sasl.username": user,
                "sasl.password": USERS.get(user, "x") if password is None else password}

    def confluent_roundtrip(self, conf, topic):
        create_topic(self.plain, topic)
        p = Producer(dict(conf, **{"message.timeout.ms": 15000}))
        for i in range(5):
            p.produce(topic, value=b"c%d" % i, partition=0)
        self.assertEqual(p.flush(20), 0, "messages left unsent")
        c = Consumer(dict(conf, **{"group.id": "g_" + topic, "enable.auto.commit": False,
                                    "fetch.wait.max.ms": 100}))
        try:
            c.assign([CTopicPartition(topic, 0, 0)])
            got = []
            deadline = time.time() + 15
            while len(got) < 5 and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got.append(m.value())
            self.assertEqual(got, [b"c%d" % i for i in range(5)])
        finally:
            c.close()

    def test_confluent_sasl_plaintext(self):
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            with self.subTest(mechanism=mechanism):
                self.confluent_roundtrip(self.conf("SASL_PLAINTEXT", **self.sasl(mechanism, "bob")),
                                         "ck_sasl_" + mechanism.replace("-", "_").lower())

    def test_confluent_ssl_and_sasl_ssl(self):
        self.confluent_roundtrip(self.conf("SSL"), "ck_ssl")
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            with self.subTest(mechanism=mechanism):
                self.confluent_roundtrip(self.conf("SASL_SSL", **self.sasl(mechanism)),
                                         "ck_sasl_ssl_" + mechanism.replace("-", "_").lower())

    def test_confluent_mutual_tls_principal(self):
        self.confluent_roundtrip(self.conf("SSL", **{"ssl.certificate.location": self.certs["client.pem"],
                                                     "ssl.key.location": self.certs["client.key"]}), "ck_mtls")
        self.assertIn("User:CN=client1,O=runnel", self.broker.log())

    def test_metadata_advertises_the_listener_connected_to(self):
        for listener, extra in (("SASL_SSL", self.sasl("SCRAM-SHA-256")), ("SSL", {})):
            md = AdminClient(self.conf(listener, **extra)).list_topics(timeout=10)
            self.assertEqual([(b.host, b.port) for b in md.brokers.values()],
                             [("127.0.0.1", self.ports[listener])])
        md = AdminClient({"bootstrap.servers": self.plain}).list_topics(timeout=10)
        self.assertEqual([b.port for b in md.brokers.values()], [self.broker.port])

    # --- failures ----------------------------------------------------------------

    def failing_client(self, conf):
        """Connects with conf; returns the error messages librdkafka reported."""
        errors = []
        a = AdminClient(dict(conf, error_cb=lambda e: errors.append(e.str())))
        with self.assertRaises(KafkaException):
            a.list_topics(timeout=4)
        a.poll(0.5)  # error_cb is served by poll()
        return " | ".join(errors)

    def assertStillServing(self):
        md = AdminClient(self.conf("SASL_SSL", **self.sasl("SCRAM-SHA-512", "bob"))).list_topics(timeout=10)
        self.assertEqual(len(md.brokers), 1)
        md = AdminClient({"bootstrap.servers": self.plain}).list_topics(timeout=10)
        self.assertEqual(len(md.brokers), 1)

    def test_wrong_password_and_unknown_user(self):
        cases = [("PLAIN", "alice", "Authentication failed: Invalid username or password"),
                 ("PLAIN", "nobody", "Authentication failed: Invalid username or password"),
                 ("SCRAM-SHA-256", "alice", "Authentication failed during authentication due to invalid "
                                            "credentials with SASL mechanism SCRAM-SHA-256"),
                 ("SCRAM-SHA-512", "nobody", "Authentication failed during authentication due to invalid "
                                             "credentials with SASL mechanism SCRAM-SHA-512")]
        for mechanism, user, message in cases:
            with self.subTest(mechanism=mechanism, user=user):
                errors = self.failing_client(self.conf("SASL_PLAINTEXT",
                                                       **self.sasl(mechanism, user, password=BAD_PASSWORD)))
                self.assertIn(message, errors)
                self.assertStillServing()
        log = self.broker.log()
        self.assertRegex(log, r"127\.0\.0\.1:\d+: failed authentication on listener SASL_PLAINTEXT with PLAIN "
                              r"as user 'nobody'")
        self.assertNotIn(BAD_PASSWORD, log)  # never the password

    def test_untrusted_certificates(self):
        # A client certificate no CA of ours signed.
        errors = self.failing_client(self.conf("SSL", **{"ssl.certificate.location": self.certs["rogue.pem"],
                                                         "ssl.key.location": self.certs["rogue.key"]}))
        self.assertRegex(errors, "SSL|ssl|handshake|Disconnected")
        # A client that does not trust the broker's certificate.
        errors = self.failing_client(self.conf("SSL", **{"ssl.ca.location": self.certs["rogue.pem"]}))
        self.assertRegex(errors, "certificate verify failed|SSL handshake failed")
        self.assertStillServing()

    def test_plaintext_client_on_tls_port(self):
        for listener in ("SSL", "SASL_SSL"):
            c = kproto.Conn(self.ports[listener])
            try:
                c.send(kproto.api_versions_v0(1))
                self.assertTrue(c.closed_by_peer(timeout=5.0), "the TLS port kept a plaintext client")
            finally:
                c.close()
            errors = self.failing_client({"bootstrap.servers": self.addr(listener)})
            self.assertTrue(errors)
        self.assertStillServing()

    def test_only_sasl_before_authentication(self):
        c = kproto.Conn(self.ports["SASL_PLAINTEXT"])
        try:
            c.send(kproto.api_versions_v0(1))  # allowed
            self.assertEqual(kproto.Reader(c.recv_frame()).i32(), 1)
            c.send(kproto.metadata_v1(2))  # not before authentication: closed, as Kafka does
            self.assertTrue(c.closed_by_peer(timeout=5.0))
        finally:
            c.close()
        # An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, then closed.
        c = kproto.Conn(self.ports["SASL_PLAINTEXT"])
        try:
            c.send(kproto.frame(kproto.header_v1(17, 1, 7) + kproto.string("GSSAPI")))
            r = kproto.Reader(c.recv_frame())
            self.assertEqual(r.i32(), 7)
            self.assertEqual(r.i16(), 33)
            self.assertEqual([r.string() for _ in range(r.i32())], ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
            self.assertTrue(c.closed_by_peer(timeout=5.0))
        finally:
            c.close()
        # SaslHandshake on a listener without SASL: ILLEGAL_SASL_STATE.
        c = kproto.Conn(self.broker.port)
        try:
            c.send(kproto.frame(kproto.header_v1(17, 1, 8) + kproto.string("PLAIN")))
            r = kproto.Reader(c.recv_frame())
            self.assertEqual((r.i32(), r.i16()), (8, 34))
        finally:
            c.close()

    # --- credential management ---------------------------------------------

    def scram_admin(self, body, api_key, correlation_id):
        c = kproto.Conn(self.broker.port)
        try:
            c.send(kproto.frame(kproto.header_v2(api_key, 0, correlation_id) + body))
            corr, r = kproto.flexible_response(c.recv_frame())
            self.assertEqual(corr, correlation_id)
            return r
        finally:
            c.close()

    def describe_users(self, users):
        body = kproto.carray(None if users is None else [kproto.cstring(u) + kproto.NO_TAGS for u in users])
        r = self.scram_admin(body + kproto.NO_TAGS, 50, 11)
        r.i32()  # throttle
        self.assertEqual(r.i16(), 0)
        r.cstring()
        out = {}
        for _ in range(r.carray_len()):
            user, error, _message = r.cstring(), r.i16(), r.cstring()
            infos = []
            for _ in range(r.carray_len()):
                infos.append((r.take(1)[0], r.i32()))
                r.tags()
            r.tags()
            out[user] = error if error else infos
        return out

    def alter_users(self, deletions=(), upsertions=()):
        dels = [kproto.cstring(n) + kproto.i8(m) + kproto.NO_TAGS for n, m in deletions]
        ups = [kproto.cstring(n) + kproto.i8(m) + kproto.i32(it) + kproto.cbytes(salt) + kproto.cbytes(salted)
               + kproto.NO_TAGS for n, m, it, salt, salted in upsertions]
        r = self.scram_admin(kproto.carray(dels) + kproto.carray(ups) + kproto.NO_TAGS, 51, 12)
        r.i32()
        out = {}
        for _ in range(r.carray_len()):
            user, error, message = r.cstring(), r.i16(), r.cstring()
            r.tags()
            out[user] = (error, message)
        return out

    def test_alter_and_describe_user_scram_credentials(self):
        described = self.describe_users(None)
        self.assertEqual(described["alice"], [(1, 4096), (2, 4096)])
        self.assertEqual(self.describe_users(["ghost"]), {"ghost": 91})  # RESOURCE_NOT_FOUND
        salt = os.urandom(16)
        result = self.alter_users(upsertions=[
            ("carol", 1, 8192, salt, salted_password("SCRAM-SHA-256", "carol-pw", salt, 8192)),
            ("dave", 1, 100, salt, b"x" * 32),  # too few iterations
            ("erin", 9, 4096, salt, b"x" * 32)])  # unknown mechanism
        self.assertEqual(result["carol"], (0, None))
        self.assertEqual(result["dave"][0], 93)  # UNACCEPTABLE_CREDENTIAL
        self.assertEqual(result["erin"][0], 33)  # UNSUPPORTED_SASL_MECHANISM
        self.assertEqual(self.describe_users(["carol"]), {"carol": [(1, 8192)]})
        # carol signs in at once, with SCRAM-SHA-256 and (checked against it) PLAIN.
        for mechanism in ("SCRAM-SHA-256", "PLAIN"):
            md = AdminClient(self.conf("SASL_PLAINTEXT", **self.sasl(mechanism, "carol", "carol-pw"))).list_topics(
                timeout=10)
            self.assertEqual(len(md.brokers), 1)
        self.assertEqual(self.alter_users(deletions=[("carol", 1)]), {"carol": (0, None)})
        self.assertEqual(self.alter_users(deletions=[("carol", 1)])["carol"][0], 91)
        self.failing_client(self.conf("SASL_PLAINTEXT", **self.sasl("SCRAM-SHA-256", "carol", "carol-pw")))


def kproto_tp(topic):
    from kafka import TopicPartition
    return TopicPartition(topic, 0)


def mutual_tls_broker(**sets):
    """A broker with one SSL listener that requires client certificates, on
    certificates made for it: (broker, its port, the certificate paths, the
    librdkafka settings to reach it without a client certificate)."""
    certs = make_certs(tempfile.mkdtemp(prefix="runnel-certs-"))
    port = free_port()
    broker = Broker(sets=dict({"listeners": "SSL://127.0.0.1:%d" % port,
                               "ssl.keystore.location": certs["server-keystore.pem"],
                               "ssl.key.password": KEY_PASSWORD,
                               "ssl.truststore.location": certs["ca.pem"],
                               "ssl.client.auth": "required"}, **sets))
    base = {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": "SSL",
            "ssl.ca.location": certs["ca.pem"], "socket.timeout.ms": 5000}
    return broker, port, certs, base


class MutualTlsRequiredTest(unittest.TestCase):
    """ssl.client.auth=required: no certificate, no connection."""

    def test_required_client_certificate(self):
        broker, port, certs, base = mutual_tls_broker()
        with broker as b:
            self.assertTrue(wait_port(port, 10.0))
            errors = []
            a = AdminClient(dict(base, error_cb=lambda e: errors.append(e.str())))
            with self.assertRaises(KafkaException):
                a.list_topics(timeout=4)
            md = AdminClient(dict(base, **{"ssl.certificate.location": certs["client.pem"],
                                           "ssl.key.location": certs["client.key"]})).list_topics(timeout=10)
            self.assertEqual([x.port for x in md.brokers.values()], [port])
            self.assertTrue(b.alive())


class PrincipalMappingTest(unittest.TestCase):
    """ssl.principal.mapping.rules: the client certificate's subject goes
    through Kafka's rules; the first that applies names the principal, and a
    certificate no rule applies to is not let in."""

    def test_rules_name_the_principal_and_refuse_the_rest(self):
        broker, port, certs, base = mutual_tls_broker(
            **{"ssl.principal.mapping.rules": "RULE:^CN=(client[0-9]+),O=(.*)$/$1@$2/U"})
        with broker as b:
            self.assertTrue(wait_port(port, 10.0))
            md = AdminClient(dict(base, **{"ssl.certificate.location": certs["client.pem"],
                                           "ssl.key.location": certs["client.key"]})).list_topics(timeout=10)
            self.assertEqual([x.port for x in md.brokers.values()], [port])
            self.assertIn("principal User:CLIENT1@RUNNEL", b.log())
            # CN=broker: no rule applies.
            a = AdminClient(dict(base, **{"ssl.certificate.location": certs["broker.pem"],
                                          "ssl.key.location": certs["broker.key"]}))
            with self.assertRaises(KafkaException):
                a.list_topics(timeout=4)
            self.assertIn("no ssl.principal.mapping.rules rule applies to the client certificate CN=broker", b.log())
            self.assertTrue(b.alive())

    def test_invalid_rules_stop_the_start(self):
        r = runnel("serve", "--data-dir", tempfile.mkdtemp(prefix="runnel-data-"), "--listen", "127.0.0.1:0",
                   "--set", "ssl.principal.mapping.rules=RULE:^CN=(.*)$/$1/LU")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Invalid rule", r.stdout + r.stderr)


class ReauthenticationTest(unittest.TestCase):
    """connections.max.reauth.ms (KIP-368), over raw SaslHandshake v1 and
    SaslAuthenticate v1 with PLAIN: the session lifetime is announced, a
    re-authentication as the same user extends it, one as another user fails,
    and a session left to expire ends the connection."""

    LIFETIME_MS = 1500

    def handshake(self, c, corr):
        c.send(kproto.frame(kproto.header_v1(17, 1, corr) + kproto.string("PLAIN")))
        r = kproto.Reader(c.recv_frame())
        self.assertEqual((r.i32(), r.i16()), (corr, 0))

    def authenticate(self, c, corr, user, password):
        token = b"\0" + user.encode() + b"\0" + password.encode()
        c.send(kproto.frame(kproto.header_v1(36, 1, corr) + kproto.nbytes(token)))
        r = kproto.Reader(c.recv_frame())
        self.assertEqual(r.i32(), corr)
        error, message = r.i16(), r.string()
        r.take(r.i32())
        return error, message, r.i64()

    def metadata_ok(self, c, corr):
        c.send(kproto.metadata_v1(corr))
        return kproto.parse_metadata_v1(c.recv_frame())

    def test_reauthentication(self):
        port = free_port()
        with Broker(sets={"listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
                          "connections.max.reauth.ms": self.LIFETIME_MS}) as b:
            b.stop()
            for user in ("alice", "bob"):
                r = runnel("user", "set", user, "--password", USERS[user], "--data-dir", b.data_dir)
                self.assertEqual(r.returncode, 0, r.stderr)
            b.restart()
            self.assertTrue(wait_port(port, 10.0))
            c = kproto.Conn(port)
            try:
                self.handshake(c, 1)
                self.assertEqual(self.authenticate(c, 2, "alice", USERS["alice"]), (0, None, self.LIFETIME_MS))
                self.metadata_ok(c, 3)
                time.sleep(self.LIFETIME_MS / 2000)
                self.handshake(c, 4)
                self.assertEqual(self.authenticate(c, 5, "alice", USERS["alice"])[0], 0)
                time.sleep(self.LIFETIME_MS / 2000 + 0.2)  # past the first session's end, within the second's
                self.metadata_ok(c, 6)
                time.sleep(self.LIFETIME_MS / 1000 + 0.2)  # the second one ends too
                c.send(kproto.metadata_v1(7))
                self.assertTrue(c.closed_by_peer(timeout=5.0))
            finally:
                c.close()
            c = kproto.Conn(port)
            try:
                self.handshake(c, 1)
                self.assertEqual(self.authenticate(c, 2, "alice", USERS["alice"])[0], 0)
                self.handshake(c, 3)
                error, message, _ = self.authenticate(c, 4, "bob", USERS["bob"])
                self.assertEqual(error, 58)  # SASL_AUTHENTICATION_FAILED
                self.assertIn("Cannot change principals during re-authentication", message)
                self.assertTrue(c.closed_by_peer(timeout=5.0))
            finally:
                c.close()
            self.assertTrue(b.alive())


class UserCommandTest(unittest.TestCase):
    def test_set_list_delete(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(runnel("user", "set", "zed", "--password", "pw", "--data-dir", d).returncode, 0)
            r = runnel("user", "set", "zed", "--password", "pw", "--mechanism", "SCRAM-SHA-512", "--iterations",
                       "8192", "--data-dir", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            listing = runnel("user", "list", "--data-dir", d).stdout
            self.assertRegex(listing, r"zed\s+SCRAM-SHA-256\s+4096")
            self.assertRegex(listing, r"zed\s+SCRAM-SHA-512\s+8192")
            self.assertNotIn("pw", listing.replace("ITERATIONS", ""))
            self.assertEqual(runnel("user", "set", "x", "--password", "p", "--iterations", "10", "--data-dir",
                                    d).returncode, 2)
            self.assertEqual(runnel("user", "delete", "zed", "--data-dir", d).returncode, 0)
            self.assertEqual(runnel("user", "delete", "zed", "--data-dir", d).returncode, 1)
            self.assertNotIn("zed", runnel("user", "list", "--data-dir", d).stdout)


if __name__ == "__main__":
    unittest.main()
