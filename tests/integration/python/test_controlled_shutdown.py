"""Controlled shutdown (controlled.shutdown.enable, on by default): a broker
stopped cleanly first has the controller move its leaderships to other
in-sync replicas and take it out of every ISR, while it still serves, as
Kafka's KRaft brokers do; only then does it close its listeners and leave.

Checked with real clients: an idempotent acks=all producer and a consumer
group run through the stop of the broker that leads partitions (the
controller itself in one case, another broker in the other) and lose
nothing; the stopping broker's log names exactly the leaderships and ISR
places the cluster's Metadata said it held, and a partition nobody else can
lead (one replica) is counted as staying, without holding up the stop."""
import re
import threading
import time
import unittest

from confluent_kafka import Consumer, Producer
from kafka.admin import NewTopic

import etcd
from cluster import Cluster, wait_for
from helpers import admin, read_partition

TOPIC = "orders"
PARTITIONS = 6
DONE = re.compile(r"controlled shutdown complete in \d+ ms: (\d+) leaderships and ISR places handed over, "
                  r"(\d+) partitions stay led here")


class Traffic:
    """An idempotent acks=all producer writing to every partition in turn, and
    a consumer group member reading, both in the background."""

    def __init__(self, bootstrap, topic, partitions):
        self.topic, self.partitions = topic, partitions
        self.acked, self.errors, self.consumed = {}, [], set()
        self.stop_producing = threading.Event()
        self.stop_consuming = threading.Event()
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 0, "message.timeout.ms": 60000})
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "readers",
                                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
        self.threads = [threading.Thread(target=self.produce, daemon=True),
                        threading.Thread(target=self.consume, daemon=True)]

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append(str(err))
        else:
            self.acked[msg.value()] = (msg.partition(), msg.offset())

    def produce(self):
        i = 0
        while not self.stop_producing.is_set():
            self.producer.produce(self.topic, value=b"v-%d" % i, partition=i % self.partitions,
                                  on_delivery=self.on_delivery)
            self.producer.poll(0)
            i += 1
            time.sleep(0.002)
        self.producer.flush(60)

    def consume(self):
        self.consumer.subscribe([self.topic])
        while not self.stop_consuming.is_set():
            m = self.consumer.poll(0.2)
            if m is not None and not m.error():
                self.consumed.add(m.value())
        self.consumer.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self, timeout=60):
        self.stop_producing.set()
        self.threads[0].join(90)
        wait_for(lambda: set(self.acked) <= self.consumed, timeout=timeout)
        self.stop_consuming.set()
        self.threads[1].join(30)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
class ControlledShutdownTest(unittest.TestCase):
    def setUp(self):
        self.cluster = Cluster(3, sets={"default.replication.factor": 3, "min.insync.replicas": 2,
                                        "offsets.topic.replication.factor": 3}).start()

    def tearDown(self):
        self.cluster.cleanup()

    def view(self, exclude=()):
        """Every topic's partitions as a live broker other than `exclude` sees them."""
        for n, b in self.cluster.brokers.items():
            v = n not in exclude and b.alive() and self.cluster.view(n)
            if v:
                return v[2]
        return {}

    def held_by(self, node):
        """(leaderships with another ISR member to take over, or ISR places
        under another leader; leaderships nobody else can take), as Metadata
        shows them: what the stopping broker must report."""
        handed, kept = 0, 0
        for _, (_, parts) in self.view().items():
            for _, (_, leader, _, isr) in parts.items():
                if leader == node:
                    if [r for r in isr if r != node]:
                        handed += 1
                    else:
                        kept += 1
                elif node in isr:
                    handed += 1
        return handed, kept

    def all_in_sync(self, topics):
        v = self.view()
        return all(t in v and v[t][1] and all(len(s[3]) == len(s[2]) for s in v[t][1].values()) for t in topics)

    def leader_of_most(self, topic, prefer_controller):
        """The broker to stop: the controller, or a broker that is not, leading at least one partition."""
        v = self.cluster.view(1)
        if not v or topic not in v[2]:
            return None
        controller = v[1]
        leaders = [s[1] for s in v[2][topic][1].values()]
        if prefer_controller and controller in leaders:
            return controller
        candidates = [n for n in self.cluster.brokers if n != controller and n in leaders]
        return candidates[0] if candidates else None

    def run_stop(self, prefer_controller, solo=False):
        c = self.cluster
        a = admin(c.brokers[1].bootstrap)
        try:
            a.create_topics([NewTopic(TOPIC, PARTITIONS, 3)])
        finally:
            a.close()
        self.assertTrue(wait_for(lambda: self.all_in_sync([TOPIC])), self.view())
        traffic = Traffic(c.bootstrap, TOPIC, PARTITIONS).start()
        self.assertTrue(wait_for(lambda: len(traffic.consumed) > 100, timeout=60), "no traffic got through")
        self.assertTrue(wait_for(lambda: self.all_in_sync([TOPIC, "__consumer_offsets"])), self.view())

        victim = wait_for(lambda: self.leader_of_most(TOPIC, prefer_controller))
        self.assertIsNotNone(victim)
        if solo:
            a = admin(c.brokers[victim].bootstrap)
            try:
                a.create_topics([NewTopic("solo", -1, -1, replica_assignments={0: [victim]})])
            finally:
                a.close()
            self.assertTrue(wait_for(lambda: "solo" in self.view() and self.view()["solo"][1][0][1] == victim))
        before = self.view()
        handed, kept = self.held_by(victim)
        self.assertGreater(handed, 0)

        self.assertEqual(c.brokers[victim].stop(), 0)
        log = c.brokers[victim].log()
        done = DONE.search(log)
        self.assertIsNotNone(done, "no controlled shutdown in the stopping broker's log:\n" + log[-3000:])
        self.assertEqual((int(done.group(1)), int(done.group(2))), (handed, kept),
                         "%r\n%s" % ({t: {p: s for p, s in v[1].items() if victim not in s[3] or t != "__consumer_offsets"} for t, v in before.items()}, log[-3000:]))
        # It handed over before it closed its partitions and left the cluster.
        self.assertLess(done.start(), log.index("left the cluster"))
        # The others lead every replicated partition it led; it is in no ISR.
        survivor_view = self.view(exclude=(victim,))
        for topic in (TOPIC, "__consumer_offsets"):
            for p, (_, leader, _, isr) in survivor_view[topic][1].items():
                self.assertNotIn(leader, (victim, -1), (topic, p, survivor_view[topic]))
                self.assertNotIn(victim, isr, (topic, p))

        time.sleep(1)  # traffic against the two that are left
        traffic.finish()
        self.assertEqual(traffic.errors, [], "the producer saw delivery errors")
        self.assertGreater(len(traffic.acked), 0)
        missing = set(traffic.acked) - traffic.consumed
        self.assertEqual(missing, set(), "the group did not read %d acknowledged records" % len(missing))
        survivor = next(b for n, b in c.brokers.items() if n != victim)
        for p in range(PARTITIONS):
            log_values = {r.offset: r.value for r in read_partition(survivor.bootstrap, TOPIC, p)}
            for value, (partition, offset) in traffic.acked.items():
                if partition == p:
                    self.assertEqual(log_values.get(offset), value, "acknowledged record lost at %d" % offset)
        return victim, kept

    def test_the_controller_hands_over_before_it_stops(self):
        self.run_stop(prefer_controller=True)

    def test_a_partition_nobody_else_can_lead_stays_without_holding_up_the_stop(self):
        victim, kept = self.run_stop(prefer_controller=False, solo=True)
        self.assertGreaterEqual(kept, 1)
        # It comes back, and so does its partition.
        c = self.cluster
        c.brokers[victim].restart()
        self.assertTrue(wait_for(lambda: self.view().get("solo", (0, {}))[1].get(0, (0, -1))[1] == victim),
                        self.view().get("solo"))


if __name__ == "__main__":
    unittest.main()
