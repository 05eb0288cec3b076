"""The REST proxy in a 2-broker cluster (PLAINTEXT listeners, real etcd):
one broker's proxy produces to partitions led by itself (reached in
process) and by the other broker (reached over TCP), and a consumer
instance on it reads them all; confluent-kafka reads the records back."""
import json
import shutil
import subprocess
import time
import unittest

from confluent_kafka import Consumer, TopicPartition
from kafka.admin import NewTopic

from broker import free_port
from cluster import Cluster, wait_for
from helpers import admin

CURL = shutil.which("curl")
V2 = "application/vnd.kafka.v2+json"
JSON_V2 = "application/vnd.kafka.json.v2+json"


@unittest.skipUnless(CURL, "curl is not installed (make deps installs it)")
class RestProxyInClusterTest(unittest.TestCase):
    def setUp(self):
        self.admin_port = free_port()
        self.cluster = Cluster(2, sets={"group.initial.rebalance.delay.ms": 0},
                               node_sets=lambda n: {"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}
                               if n == 1 else {})
        self.cluster.start()

    def tearDown(self):
        self.cluster.cleanup()

    def curl(self, method, path, body=None, content_type=V2, accept=V2):
        args = [CURL, "-s", "-X", method, "-H", "Accept: " + accept, "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "Content-Type: " + content_type, "--data-binary", json.dumps(body)]
        out = subprocess.run(args + ["http://127.0.0.1:%d%s" % (self.admin_port, path)], capture_output=True,
                             text=True, timeout=60).stdout
        text, _, code = out.rpartition("\n")
        return int(code), (json.loads(text) if text.strip() else None)

    def test_both_brokers_partitions(self):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("spread", 4, 1)])
        finally:
            a.close()
        # Leaders on both brokers (replica placement spreads 4 single-replica partitions).
        leaders = wait_for(lambda: (lambda v: v and "spread" in v[2] and len(v[2]["spread"][1]) == 4 and
                                    all(p[1] >= 0 for p in v[2]["spread"][1].values()) and
                                    {p: s[1] for p, s in v[2]["spread"][1].items()})(c.view(1, ["spread"])))
        self.assertTrue(leaders)
        self.assertEqual(set(leaders.values()), {1, 2}, leaders)
        code, body = self.curl("POST", "/topics/spread",
                               {"records": [{"value": {"p": p}, "partition": p} for p in range(4)]}, JSON_V2)
        self.assertEqual(code, 200, body)
        self.assertEqual([(o["partition"], o["error_code"]) for o in body["offsets"]],
                         [(p, None) for p in range(4)])

        cons = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "check", "enable.auto.commit": False})
        try:
            cons.assign([TopicPartition("spread", p, 0) for p in range(4)])
            got, deadline = set(), time.time() + 20
            while len(got) < 4 and time.time() < deadline:
                m = cons.poll(0.5)
                if m is not None and not m.error():
                    got.add((m.partition(), json.loads(m.value())["p"]))
        finally:
            cons.close()
        self.assertEqual(got, {(p, p) for p in range(4)})

        # A consumer instance on broker 1 fetches from both leaders.
        inst = "/consumers/g/instances/c"
        code, body = self.curl("POST", "/consumers/g", {"name": "c", "format": "json", "auto.offset.reset": "earliest"})
        self.assertEqual(code, 200, body)
        try:
            self.assertEqual(self.curl("POST", inst + "/subscription", {"topics": ["spread"]})[0], 204)
            read, deadline = set(), time.time() + 30
            while len(read) < 4 and time.time() < deadline:
                code, records = self.curl("GET", inst + "/records?timeout=1000", accept=JSON_V2)
                self.assertEqual(code, 200, records)
                read |= {(r["partition"], r["value"]["p"]) for r in records}
            self.assertEqual(read, {(p, p) for p in range(4)})
        finally:
            self.curl("DELETE", inst)


if __name__ == "__main__":
    unittest.main()
