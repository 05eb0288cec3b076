"""Keystores and truststores as Kafka users have them: PKCS12 files
(`ssl.keystore.type=PKCS12` with `ssl.keystore.password`, a PKCS12
truststore with `ssl.truststore.password`, and a store written with the
legacy algorithms of OpenSSL 1.1 / Java 8), JKS files (Kafka's default
store type: a keystore whose key has its own password, a truststore, and a
Kafka config that leaves the type at its default), the errors for a wrong
password, and per-listener settings (`listener.name.<name>.ssl.*`): two
TLS listeners presenting different certificates, one requiring client
certificates. confluent-kafka (librdkafka) and Python's ssl module are the
clients; every store is made at test time with the openssl command (JKS
stores by jks_store.py, and by Java's keytool where it is installed)."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from broker import Broker, free_port, wait_port
from jks_store import make_jks_stores
from tls_certs import make_certs

STORE_PASSWORD = "store-pass-81"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def pkcs12_stores(certs, directory):
    """server.p12 (key + certificate + CA chain), server-legacy.p12 (the same
    with RC2/3DES, as OpenSSL 1.1 and Java 8 wrote them), trust.p12 (the CA
    only, no key)."""
    openssl("pkcs12", "-export", "-in", certs["server.pem"], "-inkey", certs["server.key"], "-certfile",
            certs["ca.pem"], "-out", "server.p12", "-passout", "pass:" + STORE_PASSWORD, cwd=directory)
    openssl("pkcs12", "-export", "-legacy", "-in", certs["server.pem"], "-inkey", certs["server.key"],
            "-out", "server-legacy.p12", "-passout", "pass:" + STORE_PASSWORD, cwd=directory)
    openssl("pkcs12", "-export", "-nokeys", "-in", certs["ca.pem"], "-out", "trust.p12", "-passout",
            "pass:" + STORE_PASSWORD, cwd=directory)
    return {n: os.path.join(directory, n) for n in ("server.p12", "server-legacy.p12", "trust.p12")}


def serve(*sets):
    """`runnel serve` that is expected to fail at start: (exit code, output)."""
    args = [os.environ["RUNNEL_BIN"], "serve", "--data-dir", tempfile.mkdtemp(prefix="runnel-data-"), "--listen",
            "127.0.0.1:%d" % free_port(), "--set", "runnel.admin.listen=off"]
    for s in sets:
        args += ["--set", s]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def peer_subject(port, cafile, client_cert=None):
    """The subject of the certificate the listener presents, as ((key, value),) pairs."""
    ctx = ssl.create_default_context(cafile=cafile)
    if client_cert:
        ctx.load_cert_chain(*client_cert)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return tuple(pair for rdn in s.getpeercert()["subject"] for pair in rdn)


def mutual_tls_round_trip(test, port, certs, topic):
    """Five records produced and read back by a client presenting the trusted
    client certificate; a client presenting the rogue one is refused."""
    def client(cert, key):
        return {"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": "SSL",
                "ssl.ca.location": certs["ca.pem"], "socket.timeout.ms": 5000,
                "ssl.certificate.location": certs[cert], "ssl.key.location": certs[key]}
    mine = client("client.pem", "client.key")
    p = Producer(dict(mine, **{"acks": "all"}))
    for i in range(5):
        p.produce(topic, value=b"v%d" % i)
    test.assertEqual(p.flush(15), 0)
    c = Consumer(dict(mine, **{"group.id": topic, "enable.auto.commit": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    while len(got) < 5:
        m = c.poll(10)
        test.assertIsNotNone(m, "no record within 10 s")
        test.assertIsNone(m.error())
        got.append(m.value())
    c.close()
    test.assertEqual(got, [b"v%d" % i for i in range(5)])
    # The truststore decides: a client certificate it does not hold is refused.
    with test.assertRaises(KafkaException):
        AdminClient(client("rogue.pem", "rogue.key")).list_topics(timeout=4)


class Pkcs12Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        cls.certs = make_certs(cls.tmp)
        cls.stores = pkcs12_stores(cls.certs, cls.tmp)

    def pkcs12_broker(self, keystore, **extra):
        port = free_port()
        sets = {"listeners": "SSL://127.0.0.1:%d" % port, "ssl.keystore.type": "PKCS12",
                "ssl.keystore.location": keystore, "ssl.keystore.password": STORE_PASSWORD}
        sets.update(extra)
        return Broker(sets=sets), port

    def client(self, port, **extra):
        return dict({"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": "SSL",
                     "ssl.ca.location": self.certs["ca.pem"], "socket.timeout.ms": 5000}, **extra)

    def test_pkcs12_keystore_and_truststore_with_mutual_tls(self):
        broker, port = self.pkcs12_broker(self.stores["server.p12"], **{
            "ssl.truststore.type": "PKCS12", "ssl.truststore.location": self.stores["trust.p12"],
            "ssl.truststore.password": STORE_PASSWORD, "ssl.client.auth": "required"})
        with broker as b:
            self.assertTrue(wait_port(port, 10.0))
            mutual_tls_round_trip(self, port, self.certs, "p12-topic")
            self.assertTrue(b.alive(), b.log())

    def test_legacy_pkcs12_keystore(self):
        broker, port = self.pkcs12_broker(self.stores["server-legacy.p12"])
        with broker as b:
            self.assertTrue(wait_port(port, 10.0))
            self.assertIn(("commonName", "localhost"), peer_subject(port, self.certs["ca.pem"]))
            md = AdminClient(self.client(port)).list_topics(timeout=10)
            self.assertEqual([x.port for x in md.brokers.values() if x.port == port], [port])
            self.assertTrue(b.alive(), b.log())

    def test_a_wrong_store_password_and_a_pem_file_stop_the_start(self):
        code, out = serve("listeners=SSL://127.0.0.1:%d" % free_port(), "ssl.keystore.type=PKCS12",
                          "ssl.keystore.location=" + self.stores["server.p12"], "ssl.keystore.password=wrong")
        self.assertNotEqual(code, 0)
        self.assertIn("wrong ssl.keystore.password", out)
        code, out = serve("listeners=SSL://127.0.0.1:%d" % free_port(), "ssl.keystore.type=PKCS12",
                          "ssl.keystore.location=" + self.certs["server-keystore.pem"],
                          "ssl.keystore.password=" + STORE_PASSWORD)
        self.assertNotEqual(code, 0)
        self.assertIn("not a PKCS12 store", out)


KEY_PASSWORD = "key-pass-29"


class JksTest(unittest.TestCase):
    """JKS stores as Kafka brokers have them: ssl.key.password differs from
    the store's password, the truststore holds the CA as a trusted
    certificate entry."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        cls.certs = make_certs(cls.tmp)
        cls.stores = make_jks_stores(cls.certs, cls.tmp, STORE_PASSWORD, KEY_PASSWORD)

    def jks_sets(self, port, keystore, typed=True, **extra):
        sets = {"listeners": "SSL://127.0.0.1:%d" % port, "ssl.keystore.location": keystore,
                "ssl.keystore.password": STORE_PASSWORD, "ssl.key.password": KEY_PASSWORD}
        if typed:
            sets["ssl.keystore.type"] = "JKS"
        sets.update(extra)
        return sets

    def client(self, port, **extra):
        return dict({"bootstrap.servers": "127.0.0.1:%d" % port, "security.protocol": "SSL",
                     "ssl.ca.location": self.certs["ca.pem"], "socket.timeout.ms": 5000}, **extra)

    def test_jks_keystore_and_truststore_with_mutual_tls(self):
        port = free_port()
        with Broker(sets=self.jks_sets(port, self.stores["server.jks"], **{
                "ssl.truststore.type": "JKS", "ssl.truststore.location": self.stores["trust.jks"],
                "ssl.truststore.password": STORE_PASSWORD, "ssl.client.auth": "required"})) as b:
            self.assertTrue(wait_port(port, 10.0))
            mutual_tls_round_trip(self, port, self.certs, "jks-topic")
            # The chain the keystore holds is presented: a client trusting only the CA verifies it.
            self.assertIn(("commonName", "localhost"),
                          peer_subject(port, self.certs["ca.pem"],
                                       client_cert=(self.certs["client.pem"], self.certs["client.key"])))
            self.assertTrue(b.alive(), b.log())

    def test_a_kafka_config_that_leaves_the_store_types_at_their_default(self):
        # Kafka's documentation sets locations and passwords only: its default type is JKS.
        port = free_port()
        with Broker(sets=self.jks_sets(port, self.stores["server.jks"], typed=False)) as b:
            self.assertTrue(wait_port(port, 10.0))
            self.assertIn(("commonName", "localhost"), peer_subject(port, self.certs["ca.pem"]))
            md = AdminClient(self.client(port)).list_topics(timeout=10)
            self.assertEqual([x.port for x in md.brokers.values() if x.port == port], [port])
            self.assertTrue(b.alive(), b.log())

    def test_wrong_passwords_stop_the_start(self):
        base = self.jks_sets(free_port(), self.stores["server.jks"])
        for key, value, expected in (("ssl.keystore.password", "wrong", "wrong ssl.keystore.password"),
                                     ("ssl.key.password", "wrong", "wrong ssl.key.password"),
                                     ("ssl.truststore.password", "wrong", "wrong ssl.truststore.password")):
            sets = dict(base, **{"ssl.truststore.location": self.stores["trust.jks"],
                                 "ssl.truststore.password": STORE_PASSWORD, "ssl.client.auth": "required"})
            sets[key] = value
            code, out = serve(*("%s=%s" % kv for kv in sets.items()))
            self.assertNotEqual(code, 0, key)
            self.assertIn(expected, out)

    @unittest.skipUnless(shutil.which("keytool"), "keytool is not installed (a Java runtime's; not a dependency "
                         "of runnel): the stores keytool writes are checked where it is")
    def test_stores_keytool_wrote(self):
        d = tempfile.mkdtemp(prefix="runnel-keytool-", dir=self.tmp)
        p12, jks, trust = (os.path.join(d, n) for n in ("server.p12", "server.jks", "trust.jks"))
        openssl("pkcs12", "-export", "-in", self.certs["server.pem"], "-inkey", self.certs["server.key"],
                "-certfile", self.certs["ca.pem"], "-out", p12, "-passout", "pass:p12-pass", cwd=d)
        subprocess.run(["keytool", "-importkeystore", "-noprompt", "-srckeystore", p12, "-srcstoretype", "PKCS12",
                        "-srcstorepass", "p12-pass", "-destkeystore", jks, "-deststoretype", "JKS",
                        "-deststorepass", STORE_PASSWORD, "-destkeypass", KEY_PASSWORD],
                       check=True, capture_output=True)
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", self.certs["ca.pem"],
                        "-keystore", trust, "-storetype", "JKS", "-storepass", STORE_PASSWORD],
                       check=True, capture_output=True)
        port = free_port()
        with Broker(sets=self.jks_sets(port, jks, **{
                "ssl.truststore.type": "JKS", "ssl.truststore.location": trust,
                "ssl.truststore.password": STORE_PASSWORD, "ssl.client.auth": "required"})) as b:
            self.assertTrue(wait_port(port, 10.0))
            self.assertIn(("commonName", "localhost"),
                          peer_subject(port, self.certs["ca.pem"],
                                       client_cert=(self.certs["client.pem"], self.certs["client.key"])))
            self.assertTrue(b.alive(), b.log())


class PerListenerTest(unittest.TestCase):
    """listener.name.<name>.ssl.*: EXTERNAL presents the server certificate
    and asks for no client certificate; INTERNAL presents the broker
    certificate from its own keystore and requires one."""

    def test_each_listener_has_its_own_settings(self):
        certs = make_certs(tempfile.mkdtemp(prefix="runnel-certs-"))
        external, internal = free_port(), free_port()
        sets = {"listeners": "EXTERNAL://127.0.0.1:%d,INTERNAL://127.0.0.1:%d" % (external, internal),
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,EXTERNAL:SSL,INTERNAL:SSL",
                "ssl.keystore.location": certs["server-keystore.pem"], "ssl.key.password": "keystore-pass",
                "listener.name.internal.ssl.keystore.location": certs["broker-keystore.pem"],
                "listener.name.internal.ssl.truststore.location": certs["ca.pem"],
                "listener.name.internal.ssl.client.auth": "required"}
        with Broker(sets=sets) as b:
            self.assertTrue(wait_port(external, 10.0) and wait_port(internal, 10.0))
            self.assertIn(("commonName", "localhost"), peer_subject(external, certs["ca.pem"]))
            client_cert = (certs["client.pem"], certs["client.key"])
            self.assertIn(("commonName", "broker"), peer_subject(internal, certs["ca.pem"], client_cert))
            base = {"security.protocol": "SSL", "ssl.ca.location": certs["ca.pem"], "socket.timeout.ms": 5000}
            AdminClient(dict(base, **{"bootstrap.servers": "127.0.0.1:%d" % external})).list_topics(timeout=10)
            with self.assertRaises(KafkaException):
                AdminClient(dict(base, **{"bootstrap.servers": "127.0.0.1:%d" % internal})).list_topics(timeout=4)
            AdminClient(dict(base, **{"bootstrap.servers": "127.0.0.1:%d" % internal,
                                      "ssl.certificate.location": certs["client.pem"],
                                      "ssl.key.location": certs["client.key"]})).list_topics(timeout=10)
            self.assertTrue(b.alive(), b.log())

    def test_settings_for_a_listener_that_is_not_there_or_not_tls(self):
        code, out = serve("listener.name.nosuch.ssl.client.auth=required")
        self.assertNotEqual(code, 0)
        self.assertIn("listeners has no listener named nosuch", out)
        code, out = serve("listener.name.plaintext.ssl.client.auth=required")
        self.assertNotEqual(code, 0)
        self.assertIn("uses PLAINTEXT, not TLS", out)
        code, out = serve("listener.name.plaintext.ssl.client.auth=sometimes")
        self.assertNotEqual(code, 0)
        self.assertIn("listener.name.plaintext.ssl.client.auth", out)


if __name__ == "__main__":
    unittest.main()
