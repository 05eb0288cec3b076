"""The REST proxy (Confluent REST Proxy v2's shapes) on the admin listener,
driven with curl: topic metadata, produce with the json and binary embedded
formats (keys partitioned as the Java client does, explicit partitions),
and its errors; what it produced is read back with confluent-kafka.
Consumer instances: two members of one group split the partitions, every
record comes out once, commits are seen by other clients, a member that
leaves hands its partitions over, seeks, and the instance's format rules."""
import base64
import json
import shutil
import subprocess
import time
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
        self.broker = Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port,
                                   "group.initial.rebalance.delay.ms": 0}).start()
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

    def records(self, group, name, accept=JSON_V2, timeout_ms=1000):
        status, body = self.curl("GET", "/consumers/%s/instances/%s/records?timeout=%d" % (group, name, timeout_ms),
                                 accept=accept)
        self.assertEqual(status, 200, body)
        return body

    def test_consumer_instances_split_a_group(self):
        create_topic(self.broker.bootstrap, "rest-c", 4)
        for name in ("a", "b"):
            status, r = self.curl("POST", "/consumers/rest-g", {"name": name, "format": "json",
                                                               "auto.offset.reset": "earliest",
                                                               "auto.commit.enable": "false"}, V2)
            self.assertEqual(status, 200, r)
            self.assertTrue(r["base_uri"].endswith("/consumers/rest-g/instances/" + name), r)
            status, _ = self.curl("POST", "/consumers/rest-g/instances/%s/subscription" % name,
                                  {"topics": ["rest-c"]}, V2)
            self.assertEqual(status, 204)
        status, r = self.curl("POST", "/consumers/rest-g", {"name": "a", "format": "json"}, V2)
        self.assertEqual((status, r["error_code"]), (409, 40902))

        # Both members poll the empty topic until the group has settled (a
        # member that joined alone first must have given half away), then
        # the records are produced: each comes out once, from its owner.
        def assignments():
            out = {}
            for name in ("a", "b"):
                status, r = self.curl("GET", "/consumers/rest-g/instances/%s/assignments" % name)
                out[name] = {p["partition"] for p in r["partitions"]}
            return out
        deadline = time.time() + 60
        while time.time() < deadline and sorted(len(v) for v in assignments().values()) != [2, 2]:
            for name in ("a", "b"):
                self.assertEqual(self.records("rest-g", name, timeout_ms=200), [])
        status, r = self.curl("POST", "/topics/rest-c", {"records": [
            {"key": "key-%d" % i, "value": {"i": i}} for i in range(40)]}, JSON_V2)
        self.assertEqual(status, 200, r)
        seen = {"a": [], "b": []}
        deadline = time.time() + 60
        while sum(len(v) for v in seen.values()) < 40 and time.time() < deadline:
            for name in ("a", "b"):
                seen[name] += self.records("rest-g", name, timeout_ms=500)
        values = sorted(r["value"]["i"] for v in seen.values() for r in v)
        self.assertEqual(values, list(range(40)))
        assigned = assignments()
        self.assertEqual(assigned["a"] | assigned["b"], {0, 1, 2, 3})
        self.assertFalse(assigned["a"] & assigned["b"], assigned)
        self.assertEqual(len(assigned["a"]), 2)
        # Records came from each member's own partitions.
        for name in ("a", "b"):
            self.assertTrue({r["partition"] for r in seen[name]} <= assigned[name])
            for r in seen[name]:
                self.assertEqual(r["key"], "key-%d" % r["value"]["i"])

        # Commit (no body: everything consumed), visible to other clients.
        for name in ("a", "b"):
            status, r = self.curl("POST", "/consumers/rest-g/instances/%s/offsets" % name, {}, V2)
            self.assertEqual(status, 200, r)
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "rest-g"})
        try:
            committed = c.committed([TopicPartition("rest-c", p) for p in range(4)], timeout=10)
        finally:
            c.close()
        self.assertEqual(sum(tp.offset for tp in committed), 40)
        status, r = self.curl("GET", "/consumers/rest-g/instances/a/offsets")
        self.assertEqual(sorted((o["partition"], o["offset"] >= 0) for o in r["offsets"]),
                         sorted((p, True) for p in assigned["a"]))

        # a leaves: b takes every partition, from the committed offsets.
        status, _ = self.curl("DELETE", "/consumers/rest-g/instances/a")
        self.assertEqual(status, 204)
        self.assertEqual(self.curl("GET", "/consumers/rest-g/instances/a/assignments")[1]["error_code"], 40403)
        # Keyed, so that they land on a's old partitions too (b learns of the
        # rebalance at its next heartbeat and rejoins).
        status, r = self.curl("POST", "/topics/rest-c", {"records": [
            {"key": "key-%d" % i, "value": {"i": 100 + i}} for i in range(8)]}, JSON_V2)
        self.assertEqual(status, 200, r)
        self.assertTrue({o["partition"] for o in r["offsets"]} & assigned["a"])
        later = []
        deadline = time.time() + 60
        while len(later) < 8 and time.time() < deadline:
            later += self.records("rest-g", "b", timeout_ms=500)
        self.assertEqual(sorted(r["value"]["i"] for r in later), list(range(100, 108)))
        status, r = self.curl("GET", "/consumers/rest-g/instances/b/assignments")
        self.assertEqual(len(r["partitions"]), 4)
        # The instance's format decides: binary Accept on a json instance is refused.
        status, r = self.curl("GET", "/consumers/rest-g/instances/b/records", accept=BINARY_V2)
        self.assertEqual((status, r["error_code"]), (406, 40601))
        # Seek back to the beginning: everything again.
        status, _ = self.curl("POST", "/consumers/rest-g/instances/b/positions/beginning",
                              {"partitions": [{"topic": "rest-c", "partition": p} for p in range(4)]}, V2)
        self.assertEqual(status, 204)
        again = []
        deadline = time.time() + 30
        while len(again) < 48 and time.time() < deadline:
            again += self.records("rest-g", "b", timeout_ms=500)
        self.assertEqual(len(again), 48)
        self.assertEqual(self.curl("DELETE", "/consumers/rest-g/instances/b")[0], 204)

    def test_binary_consumer(self):
        create_topic(self.broker.bootstrap, "rest-bin", 1)
        self.curl("POST", "/topics/rest-bin", {"records": [{"key": base64.b64encode(b"k").decode(),
                                                            "value": base64.b64encode(b"\xff\x00").decode()}]},
                  BINARY_V2)
        status, _ = self.curl("POST", "/consumers/bin-g", {"name": "x", "format": "binary",
                                                           "auto.offset.reset": "earliest"}, V2)
        self.assertEqual(status, 200)
        self.curl("POST", "/consumers/bin-g/instances/x/subscription", {"topics": ["rest-bin"]}, V2)
        got = []
        deadline = time.time() + 30
        while not got and time.time() < deadline:
            got = self.records("bin-g", "x", accept=BINARY_V2, timeout_ms=500)
        self.assertEqual(len(got), 1)
        self.assertEqual(base64.b64decode(got[0]["value"]), b"\xff\x00")
        self.assertEqual(base64.b64decode(got[0]["key"]), b"k")
        self.assertEqual(self.curl("DELETE", "/consumers/bin-g/instances/x")[0], 204)


if __name__ == "__main__":
    unittest.main()
