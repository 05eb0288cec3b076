"""The admin listener over TLS (runnel.admin.listen=https://HOST:PORT) with
the broker's ssl.keystore.* certificate (a test CA made at test time, the key
encrypted with ssl.key.password), on a broker whose only Kafka listener is
SASL_SSL: curl and Python's ssl module verify the certificate against the CA,
HTTP Basic and the REST proxy work over it, an untrusting client and a
plain-HTTP client are refused, and https without a keystore stops the start."""
import base64
import json
import shutil
import ssl
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

from broker import Broker, free_port
from test_admin_security import USERS, start_secured_broker
from tls_certs import make_certs

CURL = shutil.which("curl")
V2 = "application/vnd.kafka.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class AdminHttpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="runnel-certs-")
        cls.certs = make_certs(cls.tmp)
        cls.broker, cls.admin_port = start_secured_broker(cls.certs, scheme="https")
        cls.base = "https://127.0.0.1:%d" % cls.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.broker.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, *args):
        r = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)
        text, _, code = r.stdout.rpartition("\n")
        return r.returncode, int(code or 0), text

    def test_curl_verifies_the_certificate(self):
        rc, code, body = self.curl("--cacert", self.certs["ca.pem"], "-u", "alice:" + USERS["alice"],
                                   self.base + "/topics")
        self.assertEqual((rc, code), (0, 200), body)
        self.assertEqual(json.loads(body), [])
        # By name too (the certificate carries DNS:localhost).
        rc, code, _ = self.curl("--cacert", self.certs["ca.pem"],
                                "https://localhost:%d/v1/health" % self.admin_port)
        self.assertEqual((rc, code), (0, 200))
        # Without the CA curl refuses the certificate (60: peer certificate not verified).
        rc, _, _ = self.curl(self.base + "/v1/health")
        self.assertEqual(rc, 60)
        # Basic still applies.
        rc, code, body = self.curl("--cacert", self.certs["ca.pem"], "-u", "alice:wrong", self.base + "/topics")
        self.assertEqual(code, 401, body)

    def test_plain_http_gets_no_answer(self):
        rc, code, _ = self.curl("--max-time", "5", "http://127.0.0.1:%d/v1/health" % self.admin_port)
        self.assertNotEqual(code, 200)

    def test_python_ssl_and_the_rest_proxy(self):
        ctx = ssl.create_default_context(cafile=self.certs["ca.pem"])
        with urllib.request.urlopen(self.base + "/v1/health", context=ctx, timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertTrue(json.loads(r.read())["ready"])
        # A TLS 1.2-only client is served too (ssl.enabled.protocols: TLSv1.2,TLSv1.3).
        ctx12 = ssl.create_default_context(cafile=self.certs["ca.pem"])
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        with urllib.request.urlopen(self.base + "/v1/health/live", context=ctx12, timeout=10) as r:
            self.assertEqual(r.status, 200)
        # The REST proxy over https, as the super user: a consumer instance's
        # base_uri names the https scheme.
        auth = "Basic " + base64.b64encode(b"admin:" + USERS["admin"].encode()).decode()
        req = urllib.request.Request(self.base + "/consumers/g1", method="POST",
                                     data=json.dumps({"name": "c1", "format": "json"}).encode(),
                                     headers={"Content-Type": V2, "Accept": V2, "Authorization": auth})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            body = json.loads(r.read())
        self.assertTrue(body["base_uri"].startswith("https://127.0.0.1:%d/consumers/g1/" % self.admin_port), body)
        req = urllib.request.Request(body["base_uri"], method="DELETE", headers={"Authorization": auth})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            self.assertEqual(r.status, 204)
        # An untrusting client fails the handshake.
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen(self.base + "/v1/health", context=ssl.create_default_context(), timeout=10)


class AdminHttpsConfigTest(unittest.TestCase):
    def test_https_without_a_keystore_stops_the_start(self):
        b = Broker(sets={"runnel.admin.listen": "https://127.0.0.1:%d" % free_port()})
        try:
            args = [b.binary, "serve", "--data-dir", b.data_dir, "--listen", b.bootstrap]
            for k, v in b.sets.items():
                args += ["--set", "%s=%s" % (k, v)]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("runnel.admin.listen=https://", r.stdout + r.stderr)
        finally:
            b.cleanup()


if __name__ == "__main__":
    unittest.main()
