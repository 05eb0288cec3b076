"""Certificate reload: runnel.ssl.reload.interval.ms (here 200 ms) checks the
keystore and truststore files, and a changed file is loaded for the
connections made after that.

- A listener: a new connection gets the new certificate while one opened
  before keeps working; a broken file is logged and the last good
  certificate stays.
- The inter-broker client: a broker whose truststore does not hold its
  peers' CA stays out of the ISR until the file is fixed, then rejoins it
  without a restart."""
import os
import shutil
import socket
import ssl
import tempfile
import unittest

from confluent_kafka.admin import AdminClient, NewTopic

import etcd
import kproto
from broker import Broker, free_port
from cluster import Cluster, wait_for
from tls_certs import KEY_PASSWORD, make_certs


def replace_file(path, text):
    """Replaces the file atomically, as a certificate renewal would."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def full_log(b):
    with open(b.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def read(path):
    with open(path) as f:
        return f.read()


class TlsReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-tlsreload-")
        cls.certs = make_certs(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def connect(self, port):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.certs["ca.pem"])
        ctx.check_hostname = False
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))

    @staticmethod
    def common_name(conn):
        subject = dict(x[0] for x in conn.getpeercert()["subject"])
        return subject["commonName"]

    @staticmethod
    def api_versions(conn, correlation_id):
        """ApiVersions v0 on `conn`: the correlation id of the answer."""
        def exact(n):
            buf = b""
            while len(buf) < n:
                chunk = conn.recv(n - len(buf))
                if not chunk:
                    raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
                buf += chunk
            return buf
        conn.sendall(kproto.api_versions_v0(correlation_id))
        payload = exact(int.from_bytes(exact(4), "big"))
        return kproto.parse_api_versions_v0(payload)[0]

    def test_listener_certificate_reload(self):
        keystore = os.path.join(self.tmp, "listener-keystore.pem")
        shutil.copy(self.certs["server-keystore.pem"], keystore)
        tls_port = free_port()
        b = Broker(sets={"listeners": "SSL://127.0.0.1:%d" % tls_port, "ssl.keystore.location": keystore,
                         "ssl.key.password": KEY_PASSWORD, "runnel.ssl.reload.interval.ms": "200"})
        try:
            b.start()
            old = self.connect(tls_port)
            self.assertEqual(self.common_name(old), "localhost")
            # Renewed: the broker certificate (its key is not encrypted; the
            # password is then not asked for).
            replace_file(keystore, read(self.certs["broker-keystore.pem"]))
            self.assertTrue(wait_for(lambda: "TLS: reloaded the listener certificates" in b.log(), 10), b.log())
            new = self.connect(tls_port)
            self.assertEqual(self.common_name(new), "broker")
            # Both connections are served.
            self.assertEqual(self.api_versions(old, 41), 41)
            self.assertEqual(self.api_versions(new, 42), 42)
            old.close()
            new.close()
            # A broken file: logged, and the last good certificate stays.
            replace_file(keystore, "-----BEGIN PRIVATE KEY-----\nnot a key\n")
            self.assertTrue(wait_for(lambda: "TLS: cannot reload the listener certificates" in b.log(), 10), b.log())
            again = self.connect(tls_port)
            self.assertEqual(self.common_name(again), "broker")
            again.close()
            self.assertTrue(b.alive())
        finally:
            b.cleanup()

    def test_admin_listener_certificate_reload(self):
        keystore = os.path.join(self.tmp, "admin-keystore.pem")
        shutil.copy(self.certs["server-keystore.pem"], keystore)
        admin_port = free_port()
        b = Broker(sets={"runnel.admin.listen": "https://127.0.0.1:%d" % admin_port, "ssl.keystore.location": keystore,
                         "ssl.key.password": KEY_PASSWORD, "runnel.ssl.reload.interval.ms": "200"})

        def health(conn):
            conn.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            out = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return out.decode()
                out += chunk
        try:
            b.start()
            self.assertTrue(wait_for(lambda: "admin listener" in b.log(), 10), b.log())
            old = self.connect(admin_port)
            self.assertEqual(self.common_name(old), "localhost")
            replace_file(keystore, read(self.certs["broker-keystore.pem"]))
            self.assertTrue(wait_for(lambda: "TLS: reloaded the admin listener certificates" in b.log(), 10), b.log())
            new = self.connect(admin_port)
            self.assertEqual(self.common_name(new), "broker")
            # Both are served (the old connection keeps its certificate).
            self.assertIn("200 OK", health(old))
            self.assertIn("200 OK", health(new))
            old.close()
            new.close()
            replace_file(keystore, "-----BEGIN PRIVATE KEY-----\nnot a key\n")
            self.assertTrue(wait_for(lambda: "TLS: cannot reload the admin listener certificates" in b.log(), 10),
                            b.log())
            again = self.connect(admin_port)
            self.assertEqual(self.common_name(again), "broker")
            again.close()
        finally:
            b.cleanup()

    @unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
    def test_inter_broker_truststore_reload_heals_replication(self):
        c = Cluster(0)
        c.etcd.start()
        try:
            ports = {}
            truststore = os.path.join(self.tmp, "broker3-truststore.pem")
            shutil.copy(self.certs["rogue.pem"], truststore)
            for n in (1, 2, 3):
                ports[n] = free_port()
                sets = {"listeners": "SSL://127.0.0.1:%d" % ports[n], "security.inter.broker.protocol": "SSL",
                        "ssl.keystore.location": self.certs["broker-keystore.pem"],
                        "ssl.truststore.location": truststore if n == 3 else self.certs["ca.pem"],
                        "ssl.client.auth": "required", "runnel.ssl.reload.interval.ms": "200",
                        "replica.lag.time.max.ms": "3000", "replica.fetch.wait.max.ms": "200"}
                c.brokers[n] = Broker(sets=sets, args=["--node-id", str(n), "--etcd", c.etcd.url]).start()
            self.assertTrue(wait_for(lambda: all(c.view(n) and sorted(c.view(n)[0]) == [1, 2, 3] for n in (1, 2, 3))))
            conf = {"bootstrap.servers": "127.0.0.1:%d" % ports[1], "security.protocol": "SSL",
                    "ssl.ca.location": self.certs["ca.pem"], "ssl.certificate.location": self.certs["client.pem"],
                    "ssl.key.location": self.certs["client.key"]}
            admin = AdminClient(conf)
            admin.create_topics([NewTopic("healed", 1, replica_assignment=[[1, 2, 3]])])["healed"].result(15)

            def isr():
                try:
                    p = AdminClient(conf).list_topics("healed", timeout=5).topics["healed"].partitions.get(0)
                    return (p.leader, sorted(p.isrs)) if p and p.error is None else None
                except Exception:
                    return None

            self.assertTrue(wait_for(lambda: isr() == (1, [1, 2]), timeout=30), isr())
            self.assertIn("replica fetcher: TLS handshake failed with node 1", full_log(c.brokers[3]))
            # The CA put into broker 3's truststore file: no restart.
            replace_file(truststore, read(self.certs["ca.pem"]))
            self.assertTrue(wait_for(lambda: isr() == (1, [1, 2, 3]), timeout=30), isr())
            # (The leader may count it in before the follower has logged.)
            self.assertTrue(wait_for(lambda: "replica fetcher: fetching from node 1 again" in full_log(c.brokers[3]),
                                     10))
            self.assertIn("TLS: reloaded the inter-broker client certificates", full_log(c.brokers[3]))
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main()
