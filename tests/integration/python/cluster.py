"""A local runnel cluster for the tests: a real etcd and N brokers, each on
free loopback ports with its own data dir.

    with Cluster(3) as c:
        c.brokers[1].bootstrap, c.bootstrap (all three), c.metadata(node)
"""
import os
import re
import subprocess
import time

import etcd
import kproto
from broker import Broker


def epochs(bootstrap, topic):
    """{partition: leader epoch} from `runnel cluster status`."""
    out = subprocess.run([os.environ["RUNNEL_BIN"], "cluster", "status", "--bootstrap", bootstrap],
                         capture_output=True, text=True, timeout=30).stdout
    return {int(m.group(1)): int(m.group(2))
            for m in re.finditer(r"^%s\s+(\d+)\s+\S+\s+(\d+)" % re.escape(topic), out, re.M)}


def wait_for(cond, timeout=30.0, step=0.1):
    """Polls cond() until it returns something true or timeout passes; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Cluster:
    def __init__(self, size=3, sets=None, args=None, node_sets=None):
        """args: more command-line arguments for every broker (e.g. --fault-injection);
        node_sets(node_id): configs of one broker only (e.g. its admin listener)."""
        self.etcd = etcd.Etcd()
        self.size = size
        self.sets = dict(sets or {})
        self.args = list(args or [])
        self.node_sets = node_sets or (lambda node_id: {})
        self.brokers = {}

    def start(self):
        self.etcd.start()
        for n in range(1, self.size + 1):
            self.add(n)
        if not wait_for(lambda: all(self.view(n) and sorted(self.view(n)[0]) == list(self.brokers)
                                    for n in self.brokers)):
            raise RuntimeError("the brokers did not see each other: %r\n%s"
                               % ({n: self.view(n) for n in self.brokers}, self.post_mortem()))
        return self

    def post_mortem(self):
        """For a failed start: each broker that does not answer Metadata, whether it
        is still running (its exit status if not), and its log tail."""
        parts = []
        for n, b in self.brokers.items():
            if self.view(n) is not None:
                continue
            rc = b.proc.poll() if b.proc is not None else None
            state = "running" if rc is None else ("killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc)
            parts.append("broker %d (%s), log tail:\n%s" % (n, state, b.log()[-4000:]))
        return "\n".join(parts)

    def add(self, node_id, sets=None):
        cfg = dict(self.sets)
        cfg.update(self.node_sets(node_id))
        cfg.update(sets or {})
        b = Broker(args=["--node-id", str(node_id), "--etcd", self.etcd.url] + self.args, sets=cfg)
        self.brokers[node_id] = b
        return b.start()

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers.values() if b.alive())

    def view(self, node_id, topics=None):
        """Metadata v1 from one broker: (brokers, controller, topics) as kproto.parse_metadata_v1, or None."""
        try:
            return kproto.metadata(self.brokers[node_id].port, topics)
        except (OSError, ValueError):
            return None

    def cleanup(self):
        for b in self.brokers.values():
            b.cleanup()
        self.etcd.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
