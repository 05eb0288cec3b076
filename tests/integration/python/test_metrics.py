"""The admin listener's /metrics, scraped by a real Prometheus (Debian's
`prometheus`, started here on a free port), and /v1/health.

A workload with known numbers runs: keyed records produced to a 3-partition
topic, a group that consumes and commits part of them. Prometheus' HTTP API
must then report exactly those records in, the group's lag, the requests per
API, bytes out and fdatasyncs; `promtool check metrics` must accept the text.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from broker import Broker, free_port, wait_port
from helpers import create_topic

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


class MetricsTest(unittest.TestCase):
    TOPIC = "metrics-t"
    GROUP = "metrics-g"
    FIRST = 3000   # produced, then consumed and committed
    MORE = 700     # produced after the commit: the group's lag

    def setUp(self):
        if not PROMETHEUS or not PROMTOOL:
            self.skipTest("prometheus/promtool not installed (make deps installs Debian's prometheus)")
        self.admin_port = free_port()
        self.broker = Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}).start()
        self.tmp = tempfile.mkdtemp(prefix="runnel-prom-")
        self.prom_port = free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: runnel\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.admin_port)
        self.prom_log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.prom_port],
            stdout=self.prom_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.assertTrue(wait_port(self.prom_port, 30.0, self.prom), "prometheus did not start")

    def tearDown(self):
        if getattr(self, "prom", None):
            self.prom.terminate()
            try:
                self.prom.wait(10)
            except subprocess.TimeoutExpired:
                self.prom.kill()
                self.prom.wait()
            self.prom_log.close()
        if getattr(self, "broker", None):
            self.broker.cleanup()
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def query(self, expr):
        """The value of an instant PromQL query (a single number), or None."""
        url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (self.prom_port, urllib.parse.quote(expr))
        _, body = http_get(url)
        data = json.loads(body)["data"]["result"]
        return float(data[0]["value"][1]) if data else None

    def wait_query(self, expr, want, timeout=30.0):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.query(expr)
            if got is not None and want(got):
                return got
            time.sleep(0.5)
        self.fail("%s: last value %r" % (expr, got))

    def produce(self, count, start):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all", "linger.ms": 5})
        for i in range(start, start + count):
            p.produce(self.TOPIC, key=b"k%d" % (i % 17), value=b"v" * 100)
        self.assertEqual(p.flush(30), 0)

    def test_prometheus_scrapes_the_workload(self):
        create_topic(self.broker.bootstrap, self.TOPIC, 3)
        self.produce(self.FIRST, 0)
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": self.GROUP,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([self.TOPIC])
        got = 0
        deadline = time.time() + 60
        while got < self.FIRST and time.time() < deadline:
            m = c.poll(1.0)
            if m is not None and not m.error():
                got += 1
        self.assertEqual(got, self.FIRST)
        c.commit(asynchronous=False)
        c.close()
        self.produce(self.MORE, self.FIRST)

        # The text itself: Prometheus' own linter.
        status, text = http_get("http://127.0.0.1:%d/metrics" % self.admin_port)
        self.assertEqual(status, 200)
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)

        t = 'topic="%s"' % self.TOPIC
        self.wait_query('up{job="runnel"}', lambda v: v == 1)
        self.wait_query("sum(runnel_topic_records_in_total{%s})" % t, lambda v: v == self.FIRST + self.MORE)
        self.wait_query('sum(runnel_partition_high_watermark{%s})' % t, lambda v: v == self.FIRST + self.MORE)
        self.wait_query('sum(runnel_group_lag{group="%s",%s})' % (self.GROUP, t), lambda v: v == self.MORE)
        self.wait_query('sum(runnel_group_committed_offset{group="%s",%s})' % (self.GROUP, t),
                        lambda v: v == self.FIRST)
        # Every record went out to the consumer at least once: more bytes out than values.
        self.wait_query("runnel_topic_bytes_out_total{%s}" % t, lambda v: v >= self.FIRST * 100)
        self.wait_query('sum(runnel_requests_total{api="Produce"})', lambda v: v >= 2)
        self.wait_query('sum(runnel_requests_total{api="OffsetCommit"})', lambda v: v >= 1)
        self.wait_query('sum(runnel_request_handle_seconds_count{api="Fetch"})', lambda v: v >= 1)
        self.wait_query("runnel_fdatasync_seconds_count", lambda v: v >= 1)
        self.wait_query("process_resident_memory_bytes", lambda v: v > 1e6)

        # Health: a single node is ready once it serves.
        status, body = http_get("http://127.0.0.1:%d/v1/health" % self.admin_port)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["ready"], True)


if __name__ == "__main__":
    unittest.main()


class AdminPortTakenTest(unittest.TestCase):
    """Two brokers on one host given the same admin port: the second must not
    share it. cpp-httplib sets SO_REUSEPORT by default, which let both bind and
    had the kernel split the port's connections between the two processes, so a
    console or a scrape was answered by either broker at random. Now the second
    warns that the port is taken and runs without an admin listener."""

    def setUp(self):
        self.brokers = []

    def tearDown(self):
        for b in self.brokers:
            b.cleanup()

    def test_a_second_broker_does_not_share_the_admin_port(self):
        port = free_port()
        for node in (7, 8):
            self.brokers.append(Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % port,
                                             "node.id": node}).start())
        second = self.brokers[1]
        self.assertTrue(second.alive())
        self.assertIn("admin listener not started", second.log())
        answered = set()
        for _ in range(40):  # new connections each: with a shared port some would reach node 8
            status, body = http_get("http://127.0.0.1:%d/v1/health" % port)
            self.assertEqual(status, 200)
            answered.add(json.loads(body)["node_id"])
        self.assertEqual(answered, {7})
