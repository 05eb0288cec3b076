"""The web console (/ on the admin listener) driven by a real headless
Chromium over the DevTools protocol (devtools.py): what a person does in the
browser, checked against the page's content and against the broker through
ordinary Kafka clients.

- the overview shows the one broker and its controller;
- a topic created in the browser exists for a Kafka client;
- a message produced in the browser (key, JSON value, a header) is read back
  by confluent-kafka, and records produced by a client are found in the
  browser's message browser, as JSON and as hex;
- a group's lag, shown live, goes up when records are produced and down
  when the group commits; offsets reset from the browser; a topic deleted.

Screenshots of each page are kept in $RUNNEL_TEST_ARTEFACTS (default
/tmp/runnel-console-screenshots) for a person to look at.
"""
import json
import os
import unittest
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

import devtools
from broker import Broker, free_port
from helpers import read_with_librdkafka

ARTEFACTS = os.environ.get("RUNNEL_TEST_ARTEFACTS", "/tmp/runnel-console-screenshots")


def produce(bootstrap, topic, values, partition=None):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for v in values:
        if partition is None:
            p.produce(topic, value=v)
        else:
            p.produce(topic, value=v, partition=partition)
    assert p.flush(20) == 0


def consume_and_commit(bootstrap, topic, group, count):
    """A group member that reads `count` records and commits them, then leaves."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    got = 0
    last = None
    for _ in range(200):
        if got >= count:
            break
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        got += 1
        last = m
    assert got >= count, "read %d of %d" % (got, count)
    c.commit(message=last, asynchronous=False)
    c.close()


class ConsoleTest(unittest.TestCase):
    def setUp(self):
        why = devtools.missing()
        if why:
            self.skipTest(why)
        os.makedirs(ARTEFACTS, exist_ok=True)
        self.admin_port = free_port()
        self.broker = Broker(sets={"runnel.admin.listen": "127.0.0.1:%d" % self.admin_port}).start()
        self.url = "http://127.0.0.1:%d/" % self.admin_port
        self.browser = devtools.Browser()
        self.addCleanup(self.cleanup)

    def cleanup(self):
        self.browser.close()
        self.broker.stop()

    def shot(self, name):
        path = os.path.join(ARTEFACTS, name + ".png")
        self.browser.screenshot(path)
        print("screenshot: %s" % path)

    def open(self, fragment):
        self.browser.goto(self.url + fragment)
        self.browser.wait("document.readyState === 'complete'")
        # Deleting asks for confirmation: the test says yes.
        self.browser.eval("window.confirm = () => true")

    def test_console(self):
        b = self.browser
        bootstrap = self.broker.bootstrap

        # Overview: the broker and the controller.
        self.open("#/")
        b.wait("document.querySelector('#ov-brokers').textContent === '1'", what="one broker on the overview")
        self.assertIn("127.0.0.1", b.text("main"))
        self.assertIn(str(self.broker.port), b.text("main"))
        self.assertEqual(b.text("#ov-controller"), b.text("#ov-controller").strip())
        self.shot("overview")

        # Topics: create one in the browser; a Kafka client sees it.
        self.open("#/topics")
        b.wait("document.querySelector('#create-topic')")
        b.fill("#new-topic-name", "console-orders")
        b.fill("#new-topic-partitions", "3")
        b.fill("#new-topic-configs", "retention.ms=3600000")
        b.click("#create-topic button[type=submit]")
        b.wait("(document.querySelector('#topics-table') || {innerText: ''}).innerText.includes('console-orders')",
               what="the new topic in the list")
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        self.assertIn("console-orders", md.topics)
        self.assertEqual(len(md.topics["console-orders"].partitions), 3)
        self.shot("topics")

        # The topic page: partitions, the config set at creation.
        self.open("#/topics/console-orders")
        b.wait("document.querySelectorAll('#partitions-table tbody tr').length === 3", what="3 partition rows")
        b.wait("document.querySelector('#configs-table') && "
               "document.querySelector('#configs-table').innerText.includes('3600000')", what="retention.ms shown")

        # Produce in the browser; confluent-kafka reads it back with its header.
        b.fill("#produce-partition", "1")
        b.fill("#produce-key", "order-42")
        b.fill("#produce-value", '{"order": 42, "item": "kettle"}')
        b.fill("#produce-headers", "source=console")
        b.click("#produce-form button[type=submit]")
        b.wait("document.querySelector('#messages').innerText.includes('kettle')", what="the produced message shown")
        shown = b.text("#messages")
        self.assertIn("order-42", shown)
        self.assertIn("source: console", shown)
        self.assertIn('"order": 42', shown)  # pretty-printed as JSON
        got = read_with_librdkafka(bootstrap, "console-orders", 1, 1)
        self.assertEqual(len(got), 1)
        m = got[0]
        self.assertEqual(m.key(), b"order-42")
        self.assertEqual(json.loads(m.value()), {"order": 42, "item": "kettle"})
        self.assertEqual(m.headers(), [("source", b"console")])
        self.shot("topic-messages")

        # Records from a client, found in the browser from the oldest offset,
        # and the hex view of one.
        produce(bootstrap, "console-orders", [b"client-%d" % i for i in range(10)], partition=2)
        b.fill("#browse-partition", "2")
        b.fill("#browse-from", "offset")
        b.fill("#browse-at", "7")
        b.fill("#browse-limit", "2")
        b.click("#browse")
        b.wait("document.querySelector('#messages').innerText.includes('client-7')", what="client-7 at offset 7")
        self.assertIn("client-8", b.text("#messages"))
        self.assertNotIn("client-6", b.text("#messages"))
        self.assertNotIn("client-9", b.text("#messages"))
        b.click("[data-mode=hex]")
        b.wait("document.querySelector('#messages').innerText.includes('63 6c 69 65 6e 74 2d 37')",
               what="the hex bytes of client-7")

        # A group's lag, live: 10 records, 4 committed -> lag 6; 5 more -> 11;
        # the rest committed -> 0.
        produce(bootstrap, "lag-topic", [b"x%d" % i for i in range(10)], partition=0)
        consume_and_commit(bootstrap, "lag-topic", "console-group", 4)
        self.open("#/groups")
        b.wait("(document.querySelector('#groups-table') || {innerText: ''}).innerText.includes('console-group')",
               what="the group in the list")
        self.open("#/groups/console-group")
        b.wait("document.querySelector('#group-total-lag') && "
               "document.querySelector('#group-total-lag').textContent === '6'", what="lag 6")
        produce(bootstrap, "lag-topic", [b"y%d" % i for i in range(5)], partition=0)
        b.wait("document.querySelector('#group-total-lag').textContent === '11'", what="lag up to 11")
        self.shot("group-lag")
        consume_and_commit(bootstrap, "lag-topic", "console-group", 11)  # from the committed 4 to the end
        b.wait("document.querySelector('#group-total-lag').textContent === '0'", what="lag down to 0")

        # Reset the (now empty) group to the earliest offsets from the browser.
        b.wait("document.querySelector('main').innerText.includes('Empty')", what="the group is empty")
        b.fill("#seek-to", "beginning")
        b.click("#seek-form button[type=submit]")
        b.wait("document.querySelector('#group-total-lag').textContent === '15'", what="lag 15 after the reset")
        self.shot("group-reset")

        # Delete a topic from its page.
        self.open("#/topics/lag-topic")
        b.wait("document.querySelector('#delete-topic')")
        b.click("#delete-topic")
        b.wait("location.hash === '#/topics'", what="back on the topic list")
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        self.assertNotIn("lag-topic", md.topics)

        # Bad input to the console's API: a 4xx with the reason, the broker serving on.
        for method, path, body in (("GET", "v1/console/topics/console-orders/messages?limit=abc", None),
                                   ("POST", "v1/console/topics", b"not json"),
                                   ("POST", "v1/console/topics", b'{"name": "x", "partitions": "many"}'),
                                   ("GET", "v1/console/topics/no-such-topic", None),
                                   ("GET", "v1/console/groups/no-such-group", None)):
            req = urllib.request.Request(self.url + path, data=body, method=method)
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(ctx.exception.code // 100, 4, path)
            self.assertIn("error", json.loads(ctx.exception.read()))

        self.assertEqual(b.console, [], "JavaScript errors in the page")
        self.assertTrue(self.broker.alive())


if __name__ == "__main__":
    unittest.main()
