"""Consumer groups whose topics come and go (issue 18), through kafka-python 2.0.2:
a pattern subscription picks up a matching topic created after the members
joined and drops a deleted one, and close() stays prompt afterwards.

Not covered here, because kafka-python 2.0.2 cannot do it: static membership
(it has no group.instance.id) and cooperative rebalancing (no
cooperative-sticky assignor; its protocol is always eager). The librdkafka
suite (rdkafka_groups_test.cc) covers both."""
import threading
import time
import unittest

from kafka import KafkaConsumer

from helpers import COMMON, BrokerTestCase, admin, create_topic, producer

SESSION_MS = 3000


class PatternMember:
    """A consumer subscribed to a pattern, polled by its own thread: kafka-python
    joins a group inside poll() and blocks there until the rebalance completes,
    so two members cannot share one thread."""

    def __init__(self, bootstrap, group, pattern):
        self.c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                               auto_offset_reset="earliest", session_timeout_ms=SESSION_MS, heartbeat_interval_ms=300,
                               max_poll_interval_ms=20000, fetch_max_wait_ms=100, metadata_max_age_ms=500, **COMMON)
        self.c.subscribe(pattern=pattern)
        self.lock = threading.Lock()
        self.assigned = []
        self.got = []
        self.stop = threading.Event()
        self.close_seconds = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            batch = self.c.poll(timeout_ms=100)
            with self.lock:
                self.assigned = sorted((tp.topic, tp.partition) for tp in self.c.assignment())
                for recs in batch.values():
                    self.got.extend(r.value.decode() for r in recs)
        start = time.time()
        self.c.close()
        self.close_seconds = time.time() - start

    def snapshot(self):
        with self.lock:
            return list(self.assigned), list(self.got)

    def close(self):
        self.stop.set()
        self.thread.join(30)


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what() if callable(what) else what))


def owned(members):
    return [m.snapshot()[0] for m in members]


def owns_exactly(members, want):
    """Disjoint assignments that together are exactly `want`."""
    parts = [tp for a in owned(members) for tp in a]
    return len(parts) == len(set(parts)) and sorted(parts) == sorted(want)


def partitions_of(*topics):
    return [(t, p) for t in topics for p in range(2)]


class PatternSubscriptionTests(BrokerTestCase):
    broker_sets = {"num.partitions": 2, "group.initial.rebalance.delay.ms": 0, "group.min.session.timeout.ms": 1000,
                   "auto.create.topics.enable": "false"}

    def test_pattern_picks_up_new_topic_and_drops_deleted_one(self):
        first, second = "py-rx-a", "py-rx-b"
        create_topic(self.bootstrap, first, 2)
        ms = [PatternMember(self.bootstrap, "py-rx-g", r"^py-rx-.*") for _ in range(2)]
        try:
            wait_until(lambda: owns_exactly(ms, partitions_of(first)) and all(owned(ms)), 30,
                       lambda: "both members to share %s: %r" % (first, owned(ms)))
            create_topic(self.bootstrap, second, 2)
            wait_until(lambda: owns_exactly(ms, partitions_of(first, second)), 30,
                       lambda: "the new topic to be assigned: %r" % (owned(ms),))
            a = admin(self.bootstrap)
            try:
                a.delete_topics([first])
            finally:
                a.close()
            wait_until(lambda: owns_exactly(ms, partitions_of(second)) and all(owned(ms)), 30,
                       lambda: "the deleted topic to be dropped: %r" % (owned(ms),))
            # The group still works: every new record arrives (at least once:
            # nothing is committed, so a partition that moves later is read again).
            p = producer(self.bootstrap)
            for i in range(4):
                p.send(second, value=b"late-%d" % i, partition=i % 2)
            p.flush()
            p.close()

            def late():
                return sorted(v for m in ms for v in m.snapshot()[1] if v.startswith("late-"))
            wait_until(lambda: set(late()) == {"late-%d" % i for i in range(4)}, 20,
                       lambda: "4 records, got %r" % (late(),))
        finally:
            for m in ms:
                m.close()
        for m in ms:
            self.assertIsNotNone(m.close_seconds, "close() did not return")
            self.assertLess(m.close_seconds, 5, "close() took too long")


if __name__ == "__main__":
    unittest.main()
