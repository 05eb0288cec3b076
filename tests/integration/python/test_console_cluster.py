"""The console's view of a whole cluster: three brokers with a real etcd,
each with its admin listener. Broker 1's /v1/console/cluster/metrics reads
every broker's /metrics (the admin address each registered in etcd), and
its overview, in a headless Chromium, charts and tables them per broker:

- records produced to a partition led by broker 2 move broker 2's counters
  (and not broker 3's) in broker 1's answer, and broker 3's row in the
  browser shows records/s while a client produces to a partition it leads
  (and the topic list shows that partition's size);
- a broker in controlled shutdown is listed as such (`controlled_shutdown`)
  while it hands its leaderships over;
- a broker that does not answer (SIGSTOP: still registered, its admin port
  silent) is listed as unreachable within the short deadline, not a hang;
  a broker killed with SIGKILL stays on the page as unreachable;
- with runnel.admin.authentication=basic on every broker, broker 1 forwards
  the request's Basic credentials to its peers (their metrics are read), and
  a request without them is a 401 on broker 1 itself.
"""
import base64
import json
import os
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from confluent_kafka import Producer
from kafka.admin import NewTopic

import devtools
import etcd
from broker import free_port
from cluster import Cluster, wait_for
from helpers import admin

ARTEFACTS = os.environ.get("RUNNEL_TEST_ARTEFACTS", "/tmp/runnel-console-screenshots")


def get_json(url, auth=None, timeout=15):
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def counter(text, name, topic):
    """The value of `name{topic="..."}` summed over its series in a Prometheus text, 0 when absent."""
    total = 0.0
    for line in (text or "").splitlines():
        if line.startswith(name + "{") and 'topic="%s"' % topic in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def produce(bootstrap, topic, partition, count):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(count):
        p.produce(topic, value=b"v%d" % i, partition=partition)
    assert p.flush(20) == 0


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ConsoleClusterTest(unittest.TestCase):
    def start(self, extra=None):
        self.admin_ports = {n: free_port() for n in (1, 2, 3)}
        sets = {"group.initial.rebalance.delay.ms": 0, "broker.session.timeout.ms": 20000}
        sets.update(extra or {})
        self.c = Cluster(3, sets=sets,
                         node_sets=lambda n: {"runnel.admin.listen": "127.0.0.1:%d" % self.admin_ports[n]})
        self.addCleanup(self.c.cleanup)
        self.c.start()
        self.base = "http://127.0.0.1:%d" % self.admin_ports[1]

    def create_spread_topic(self):
        """Topic `load`, partition p led (alone) by broker p + 1."""
        a = admin(self.c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("load", -1, -1, replica_assignments={0: [1], 1: [2], 2: [3]})])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: (lambda v: v and "load" in v[2] and len(v[2]["load"][1]) == 3)(
            self.c.view(1, ["load"]))))

    def cluster_metrics(self, auth=None):
        answer = get_json(self.base + "/v1/console/cluster/metrics", auth)
        return {b["node_id"]: b for b in answer["brokers"]}

    def test_metrics_of_every_broker_and_unreachable_ones(self):
        self.start()
        self.create_spread_topic()
        before = self.cluster_metrics()
        self.assertEqual(sorted(before), [1, 2, 3])
        for n in (1, 2, 3):
            self.assertEqual(before[n]["status"], "ok", before[n])
            self.assertEqual(before[n]["admin"], "http://127.0.0.1:%d" % self.admin_ports[n])
            self.assertEqual(before[n]["self"], n == 1)
            self.assertIn("runnel_connections", before[n]["metrics"])
            self.assertNotIn("# TYPE", before[n]["metrics"])  # only the charted families' samples
        produce(self.c.bootstrap, "load", 1, 50)  # partition 1: led by broker 2
        after = self.cluster_metrics()
        name = "runnel_topic_records_in_total"
        self.assertEqual(counter(after[2]["metrics"], name, "load") - counter(before[2]["metrics"], name, "load"), 50)
        self.assertEqual(counter(after[3]["metrics"], name, "load"), counter(before[3]["metrics"], name, "load"))
        self.assertEqual(counter(after[1]["metrics"], name, "load"), counter(before[1]["metrics"], name, "load"))

        # Broker 3 stops answering (still registered: its lease outlives the pause).
        b3 = self.c.brokers[3]
        b3.signal(signal.SIGSTOP)
        try:
            started = time.time()
            paused = self.cluster_metrics()
            took = time.time() - started
            self.assertEqual(paused[3]["status"], "unreachable", paused[3])
            self.assertIn("/metrics", paused[3]["error"])
            self.assertLess(took, 5.0)  # the peer's deadline, not a hang
            self.assertEqual((paused[1]["status"], paused[2]["status"]), ("ok", "ok"))
        finally:
            b3.signal(signal.SIGCONT)
        self.assertTrue(wait_for(lambda: self.cluster_metrics()[3]["status"] == "ok", timeout=15))

    def test_a_broker_in_controlled_shutdown_is_listed_as_stopping(self):
        """A broker asked to stop first hands its leaderships over (controlled
        shutdown); with the controller paused it waits, and meanwhile the
        console lists it as stopping. Once the controller runs again it
        finishes and leaves."""
        self.start()
        a = admin(self.c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("moving", -1, -1,
                                      replica_assignments={0: [1, 2, 3], 1: [2, 3, 1], 2: [3, 1, 2]})])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: (lambda v: v and "moving" in v[2] and len(v[2]["moving"][1]) == 3 and all(
            len(isr) == 3 for _, _, _, isr in v[2]["moving"][1].values()))(self.c.view(1, ["moving"]))))
        controller = get_json(self.base + "/v1/console/cluster")["controller_id"]
        stopping, viewer = [n for n in (1, 2, 3) if n != controller]
        self.base = "http://127.0.0.1:%d" % self.admin_ports[viewer]
        self.assertFalse(any(b["controlled_shutdown"] for b in self.cluster_metrics().values()))
        browser = None
        if not devtools.missing():  # the overview's badge too, where Chromium is installed
            browser = devtools.Browser()
            self.addCleanup(browser.close)
            browser.goto(self.base + "/#/")
            browser.wait("document.querySelectorAll('#broker-metrics-table tbody tr').length === 4",
                         what="three brokers and the cluster's totals")
        self.c.brokers[controller].signal(signal.SIGSTOP)
        try:
            self.c.brokers[stopping].signal(signal.SIGTERM)
            self.assertTrue(wait_for(lambda: self.cluster_metrics().get(stopping, {}).get("controlled_shutdown"),
                                     timeout=15), self.cluster_metrics())
            listed = self.cluster_metrics()
            self.assertFalse(listed[viewer]["controlled_shutdown"])
            if browser:
                row = ("[...document.querySelectorAll('#broker-metrics-table tbody tr')]"
                       ".find((r) => r.cells[0].innerText.trim() === '%d')" % stopping)
                browser.wait("(%s || {cells: [{}, {}, {innerText: ''}]}).cells[2].innerText.includes('stopping')" % row,
                             timeout=10, what="broker %d shown as stopping" % stopping)
        finally:
            self.c.brokers[controller].signal(signal.SIGCONT)
        self.assertEqual(self.c.brokers[stopping].wait_exit(30), 0)
        self.assertTrue(wait_for(lambda: stopping not in self.cluster_metrics(), timeout=15))

    def test_overview_in_the_browser(self):
        why = devtools.missing()
        if why:
            self.skipTest(why)
        self.start()
        self.create_spread_topic()
        os.makedirs(ARTEFACTS, exist_ok=True)
        b = devtools.Browser()
        self.addCleanup(b.close)
        b.goto(self.base + "/#/")
        b.wait("document.readyState === 'complete'")
        rows = "document.querySelectorAll('#broker-metrics-table tbody tr')"
        b.wait("%s.length === 4" % rows, what="three brokers and the cluster's totals")
        # Keep producing to partition 2 (led by broker 3) until its row shows records/s.
        p = Producer({"bootstrap.servers": self.c.bootstrap, "linger.ms": 5})
        row3 = "[...%s].find((r) => r.cells[0].innerText.trim() === '3')" % rows
        records3 = "(%s || {cells: []}).cells[5]" % row3
        # A rate needs two consecutive successful scrapes of broker 3 by broker
        # 1 (every 2 s); on a loaded CI machine that can take a while.
        deadline, seen = time.time() + 45, None
        while time.time() < deadline:
            for i in range(200):
                p.produce("load", value=b"x" * 100, partition=2)
            p.poll(0)
            time.sleep(0.2)
            seen = b.eval("(%s || {innerText: ''}).innerText" % records3)
            if seen and seen not in ("–", "0"):
                break
        p.flush(10)
        if seen in (None, "", "–", "0"):
            status3 = b.eval("((%s || {cells: []}).cells[2] || {innerText: 'no row'}).innerText" % row3)
            scraped3 = self.cluster_metrics().get(3, {})
            self.fail("broker 3's records/s on broker 1's console: %r; its status there %r; broker 1's "
                      "/cluster/metrics says %r (%s)" % (seen, status3, scraped3.get("status"), scraped3.get("error")))
        self.assertGreater(float(seen.replace(",", "")), 0)
        row1 = b.eval("[...%s].find((r) => r.cells[0].innerText.includes('(this)')).cells[0].innerText" % rows)
        self.assertEqual(row1.strip(), "1 (this)")
        b.screenshot(os.path.join(ARTEFACTS, "cluster-overview.png"))

        # The topic list sums the brokers too: `load`'s data is all on broker 3.
        b.goto(self.base + "/#/topics")
        size = ("[...document.querySelectorAll('#topics-table tbody tr')]"
                ".find((r) => r.cells[0].innerText.trim() === 'load')")
        b.wait("(%s || {cells: [0, 0, 0, {innerText: '0 B'}]}).cells[3].innerText.trim() !== '0 B'" % size,
               timeout=15, what="topic load's size, led by broker 3, on broker 1's topic list")

        # A move in progress shows on the topic page: `moving`-0 (on broker 1
        # alone, so that broker 1 answers everything the page asks) to [1, 3]
        # while broker 3 is paused (still registered, it copies nothing),
        # then completes once broker 3 is back.
        a = admin(self.c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic("moving", -1, -1, replica_assignments={0: [1]})])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: (lambda v: v and "moving" in v[2])(self.c.view(1, ["moving"]))))
        b3 = self.c.brokers[3]
        b3.signal(signal.SIGSTOP)
        moving = "document.querySelector('#partitions-table .badge.moving')"
        try:
            r = subprocess.run([self.c.brokers[1].binary, "cluster", "reassign", "moving:0=1,3", "--bootstrap",
                                self.c.brokers[1].bootstrap], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            b.goto(self.base + "/#/topics/moving")
            b.wait("%s !== null && %s.innerText === 'moving +3'" % (moving, moving), timeout=15,
                   what="moving-0's move to broker 3 on its topic page")
            b.screenshot(os.path.join(ARTEFACTS, "topic-partition-moving.png"))
        finally:
            b3.signal(signal.SIGCONT)
        b.wait("document.querySelector('#partitions-table') !== null && %s === null" % moving, timeout=30,
               what="the move completed once broker 3 is back")
        self.assertIn("1, 3", b.eval("document.querySelector('#partitions-table tbody tr').cells[3].innerText"))

        b.goto(self.base + "/#/")
        b.wait("%s.length === 4" % rows, what="the overview again")

        # Broker 2 dies: its row stays, marked unreachable.
        self.c.brokers[2].kill9()
        row2 = "[...%s].find((r) => r.cells[0].innerText.trim() === '2')" % rows
        b.wait("(%s || {cells: [{}, {}, {innerText: ''}]}).cells[2].innerText.includes('unreachable')" % row2,
               timeout=25, what="broker 2 shown as unreachable")
        b.screenshot(os.path.join(ARTEFACTS, "cluster-overview-broker-down.png"))

    def test_basic_credentials_are_forwarded_to_the_peers(self):
        self.start({"runnel.admin.authentication": "basic"})
        r = subprocess.run([os.environ["RUNNEL_BIN"], "user", "set", "ops", "--password", "ops-secret", "--etcd",
                            self.c.etcd.url], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            self.cluster_metrics()
        self.assertEqual(refused.exception.code, 401)
        got = wait_for(lambda: (lambda m: all(m[n]["status"] == "ok" for n in (1, 2, 3)) and m)(
            self.cluster_metrics(("ops", "ops-secret"))), timeout=15)
        self.assertTrue(got)
        self.assertIn("runnel_connections", got[3]["metrics"])


if __name__ == "__main__":
    unittest.main()
