"""The REST proxy (Confluent REST Proxy v2's shapes) on the admin listener,
driven with curl: topic metadata, produce with the json and binary embedded
formats (keys partitioned as the Java client does, explicit partitions),
and its errors; what it produced is read back with confluent-kafka."""
import base64
import json
import shutil
import subprocess
import unittest

from confluent_kafka import Consumer, TopicPartition

from broker import Broker, free_port
from helpers import create_topic

CURL = shutil.which("curl")
V2 = "application/vnd.kafka.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"
BINARY_V2 = "application/vnd.kafka.binary.v2+json"


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class RestProxyTest(unittest.TestCase):
    def setUp(self):
        self.admin_port = free_port()
        self.broker = Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}).start()
        self.base = "http://127.0.0.1:%d" % self.admin_port

    def tearDown(self):
        self.broker.cleanup()

    def curl(self, method, path, body=None, content_type=None, accept=V2):
        args = [CURL, "-s", "-X", method, "-H", "Accept: " + accept, "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "Content-Type: " + content_type, "--data-binary", json.dumps(body)]
        out = subprocess.run(args + [self.base + path], capture_output=True, text=True, timeout=30).stdout
        text, status = out.rsplit("\n", 1)
        return int(status), (json.loads(text) if text else None)

    def read_all(self, topic, partitions):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "rest-check",
                      "enable.auto.commit": False})
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = []
        try:
            for _ in range(50):
                for m in c.consume(100, 0.2):
                    if not m.error():
                        out.append(m)
        finally:
            c.close()
        return out

    def test_topics_and_produce(self):
        create_topic(self.broker.bootstrap, "rest-t", 3)
        status, topics = self.curl("GET", "/topics")
        self.assertEqual((status, topics), (200, ["rest-t"]))
        status, t = self.curl("GET", "/topics/rest-t")
        self.assertEqual(status, 200)
        self.assertEqual([p["partition"] for p in t["partitions"]], [0, 1, 2])
        self.assertTrue(all(r["in_sync"] and r["leader"] for p in t["partitions"] for r in p["replicas"]))
        self.assertEqual(self.curl("GET", "/topics/nope")[1]["error_code"], 40401)

        # json: keys and values are JSON, stored as their text.
        status, r = self.curl("POST", "/topics/rest-t", {"records": [
            {"key": "alice", "value": {"n": 1}}, {"key": "bob", "value": [1, 2]}, {"value": "to-2", "partition": 2}]},
            JSON_V2)
        self.assertEqual(status, 200, r)
        self.assertEqual(r["key_schema_id"], None)
        self.assertEqual([o["error_code"] for o in r["offsets"]], [None, None, None])
        self.assertEqual(r["offsets"][2]["partition"], 2)
        # binary: base64 keys and values, to an explicit partition.
        status, r = self.curl("POST", "/topics/rest-t/partitions/1", {"records": [
            {"key": base64.b64encode(b"k").decode(), "value": base64.b64encode(b"\x00\x01binary").decode()}]},
            BINARY_V2)
        self.assertEqual(status, 200, r)
        self.assertEqual(r["offsets"][0]["partition"], 1)

        got = {(m.partition(), m.offset()): (m.key(), m.value()) for m in self.read_all("rest-t", 3)}
        self.assertEqual(len(got), 4)
        self.assertIn((b'"alice"', b'{"n":1}'), got.values())
        self.assertIn((b'"bob"', b"[1,2]"), got.values())
        self.assertEqual(got[(1, r["offsets"][0]["offset"])], (b"k", b"\x00\x01binary"))
        # Offsets the proxy answered are where the records are.
        self.assertIn((2, 0), got)

        # Errors in the REST Proxy's shape.
        status, r = self.curl("POST", "/topics/nope", {"records": [{"value": 1}]}, JSON_V2)
        self.assertEqual((status, r["error_code"]), (404, 40401))
        status, r = self.curl("POST", "/topics/rest-t/partitions/7", {"records": [{"value": 1}]}, JSON_V2)
        self.assertEqual((status, r["error_code"]), (404, 40402))
        status, r = self.curl("POST", "/topics/rest-t", {"records": [{"value": "%%%"}]}, BINARY_V2)
        self.assertEqual((status, r["error_code"]), (422, 42201))
        status, r = self.curl("POST", "/topics/rest-t", {"no-records": []}, JSON_V2)
        self.assertEqual((status, r["error_code"]), (422, 42201))
        status, r = self.curl("POST", "/topics/rest-t", {"records": []}, "application/vnd.kafka.avro.v2+json")
        self.assertEqual(status, 415)


if __name__ == "__main__":
    unittest.main()
