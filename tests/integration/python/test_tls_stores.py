"""Keystores and truststores as Kafka users have them: PKCS12 files
(`ssl.keystore.type=PKCS12` with `ssl.keystore.password`, a PKCS12
truststore with `ssl.truststore.password`, and a store written with the
legacy algorithms of OpenSSL 1.1 / Java 8), the errors for a wrong password
and for JKS, and per-listener settings (`listener.name.<name>.ssl.*`): two
TLS listeners presenting different certificates, one requiring client
certificates. confluent-kafka (librdkafka) and Python's ssl module are the
clients; every store is made at test time with the openssl command."""
import os
import socket
import ssl
import subprocess
import tempfile
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from broker import Broker, free_port, wait_port
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
            mine = self.client(port, **{"ssl.certificate.location": self.certs["client.pem"],
                                        "ssl.key.location": self.certs["client.key"]})
            p = Producer(dict(mine, **{"acks": "all"}))
            for i in range(5):
                p.produce("p12-topic", value=b"v%d" % i)
            self.assertEqual(p.flush(15), 0)
            c = Consumer(dict(mine, **{"group.id": "p12", "enable.auto.commit": False}))
            c.assign([TopicPartition("p12-topic", 0, 0)])
            got = []
            while len(got) < 5:
                m = c.poll(10)
                self.assertIsNotNone(m, "no record within 10 s")
                self.assertIsNone(m.error())
                got.append(m.value())
            c.close()
            self.assertEqual(got, [b"v%d" % i for i in range(5)])
            # The truststore decides: a client certificate it does not hold is refused.
            rogue = AdminClient(self.client(port, **{"ssl.certificate.location": self.certs["rogue.pem"],
                                                     "ssl.key.location": self.certs["rogue.key"]}))
            with self.assertRaises(KafkaException):
                rogue.list_topics(timeout=4)
            self.assertTrue(b.alive(), b.log())

    def test_legacy_pkcs12_keystore(self):
        broker, port = self.pkcs12_broker(self.stores["server-legacy.p12"])
        with broker as b:
            self.assertTrue(wait_port(port, 10.0))
            self.assertIn(("commonName", "localhost"), peer_subject(port, self.certs["ca.pem"]))
            md = AdminClient(self.client(port)).list_topics(timeout=10)
            self.assertEqual([x.port for x in md.brokers.values() if x.port == port], [port])
            self.assertTrue(b.alive(), b.log())

    def test_wrong_store_password_and_jks_stop_the_start(self):
        code, out = serve("listeners=SSL://127.0.0.1:%d" % free_port(), "ssl.keystore.type=PKCS12",
                          "ssl.keystore.location=" + self.stores["server.p12"], "ssl.keystore.password=wrong")
        self.assertNotEqual(code, 0)
        self.assertIn("wrong ssl.keystore.password", out)
        code, out = serve("ssl.truststore.type=JKS")
        self.assertNotEqual(code, 0)
        self.assertIn("ssl.truststore.type=JKS is not supported", out)
        code, out = serve("listeners=SSL://127.0.0.1:%d" % free_port(), "ssl.keystore.type=PKCS12",
                          "ssl.keystore.location=" + self.certs["server-keystore.pem"],
                          "ssl.keystore.password=" + STORE_PASSWORD)
        self.assertNotEqual(code, 0)
        self.assertIn("not a PKCS12 store", out)


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
