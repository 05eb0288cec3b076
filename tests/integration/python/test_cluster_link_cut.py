"""A follower's connection to its leader that silently stops carrying packets (a cut link:
no FIN, no RST, every packet dropped) is given up within seconds and made again.

Before 319a52f the follower waited on such a connection for its fetch's own deadline (the
long poll plus 10 s) whenever the leader had acknowledged the fetch before the cut and its
response was lost in it; all that while the follower was in the ISR without copying, and
every acks=all producer of its partitions waited. Now keepalive probes from the first idle
second, which TCP_USER_TIMEOUT gives 3 s to be acknowledged, fail the socket.

The cut drops only the follower's connections that exist when it is made (nftables, by
port), so a new connection goes through: what is measured is how long the follower keeps
using the dead one. Needs root and nft (the Makefile's deps install nftables)."""
import os
import re
import shutil
import subprocess
import time
import unittest

import etcd
from cluster import Cluster
from helpers import producer
from test_cluster_replication import create_replicated, states

TABLE = "runnel_link_cut_%d" % os.getpid()


def established_ports(pid, remote_port):
    """Local ports of the TCP connections process `pid` holds to 127.0.0.1:remote_port."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", "dport", "= :%d" % remote_port],
                         capture_output=True, text=True, check=True).stdout
    ports = []
    for line in out.splitlines():
        if "pid=%d," % pid in line:
            ports.append(int(re.split(r"\s+", line.strip())[2].rsplit(":", 1)[1]))
    return ports


def cut(ports):
    """Drops every packet to or from these local ports (both directions of a loopback
    connection pass the output hook)."""
    rules = "".join("    tcp sport %d drop\n    tcp dport %d drop\n" % (p, p) for p in ports)
    script = "table inet %s {\n  chain out {\n    type filter hook output priority 0;\n%s  }\n}\n" % (TABLE, rules)
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)


def heal():
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


@unittest.skipUnless(etcd.available(), "etcd-server is not installed (make deps installs it)")
@unittest.skipUnless(os.geteuid() == 0 and shutil.which("nft") and shutil.which("ss"),
                     "cutting a connection needs root, nft (nftables) and ss (iproute2)")
class ClusterLinkCutTest(unittest.TestCase):
    def setUp(self):
        # A long lag time keeps the stuck follower in the ISR, so that acks=all waits for
        # it; min.insync.replicas 2 keeps the leader from acknowledging alone.
        self.cluster = Cluster(2, sets={"broker.session.timeout.ms": 2000, "replica.lag.time.max.ms": 60000,
                                        "replica.fetch.wait.max.ms": 500, "min.insync.replicas": 2}).start()

    def tearDown(self):
        heal()
        self.cluster.cleanup()

    def test_a_follower_gives_up_a_dead_connection_to_its_leader_within_seconds(self):
        c = self.cluster
        _, leader, replicas, _ = create_replicated(self, c, "cut", 1, 2)[0]
        follower = [r for r in replicas if r != leader][0]
        p = producer(c.bootstrap, acks="all", linger_ms=0, retries=0, request_timeout_ms=30000)
        try:
            p.send("cut", value=b"before", partition=0).get(timeout=40)
            # The follower's fetch is now parked on the leader (acknowledged, no data).
            time.sleep(0.2)
            ports = established_ports(c.brokers[follower].proc.pid, c.brokers[leader].port)
            self.assertTrue(ports, "the follower holds no connection to its leader")
            cut(ports)
            t0 = time.monotonic()
            p.send("cut", value=b"during", partition=0).get(timeout=40)
            took = time.monotonic() - t0
            print("acks=all acknowledged %.1f s after the cut" % took)
        finally:
            p.close()
        # Now: the 3 s of unanswered keepalive probes, then a new connection (~4 s).
        # Before: the parked fetch's deadline, 10.5 s after it was sent.
        self.assertLess(took, 8.0, "acks=all waited %.1f s for a follower stuck on a dead connection" % took)
        view = c.view(leader, ["cut"])
        self.assertEqual(sorted(states(view, "cut")[0][3]), sorted(replicas))


if __name__ == "__main__":
    unittest.main()
