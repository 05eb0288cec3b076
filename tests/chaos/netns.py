"""The chaos network: one bridge in the root namespace, one network namespace per
broker joined to it by a veth pair, and an nftables table inside each namespace
that the nemesis fills with drop rules to cut links.

Every name carries the pid of the run (`rnc<pid>...`), so two runs never collide
and a run can tell the leftovers of a dead run (pid gone) from a live one and
remove them. Addresses: 10.77.<S>.0/24 with S chosen free at start;
  .1  the bridge's primary address: the harness's clients connect from it
  .2  a second bridge address that etcd listens on (cut separately from clients)
  .1N broker N inside namespace N
"""
import os
import re
import subprocess

PREFIX = "rnc"


def sh(*args, check=True, input=None):
    r = subprocess.run(list(args), input=input, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_leftovers(log=print):
    """Deletes namespaces and links of earlier runs whose process is gone."""
    for line in sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^%s(\d+)-n\d+$" % PREFIX, name)
        if m and not _alive(int(m.group(1))):
            log("chaos: removing leftover namespace %s" % name)
            sh("ip", "netns", "del", name, check=False)
    for line in sh("ip", "-o", "link", "show", check=False).splitlines():
        m = re.match(r"^\d+:\s+(%s(\d+)[bh]\d*)[@:]" % PREFIX, line)
        if m and not _alive(int(m.group(2))):
            log("chaos: removing leftover link %s" % m.group(1))
            sh("ip", "link", "del", m.group(1), check=False)


def _free_subnet():
    used = set(int(m) for m in re.findall(r"inet 10\.77\.(\d+)\.", sh("ip", "-o", "addr", check=False)))
    for s in range(0, 256):
        if s not in used:
            return s
    raise RuntimeError("no free 10.77.x.0/24 subnet")


class Net:
    def __init__(self, nodes, log=print):
        self.pid = os.getpid()
        self.nodes = list(nodes)
        self.log = log
        self.bridge = "%s%db" % (PREFIX, self.pid)
        self.subnet = None
        self.created_ns = []
        self.created_links = []

    def ns(self, n):
        return "%s%d-n%d" % (PREFIX, self.pid, n)

    def ip(self, n):
        return "10.77.%d.%d" % (self.subnet, 10 + n)

    @property
    def client_ip(self):
        return "10.77.%d.1" % self.subnet

    @property
    def etcd_ip(self):
        return "10.77.%d.2" % self.subnet

    def setup(self):
        remove_leftovers(self.log)
        self.subnet = _free_subnet()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.created_links.append(self.bridge)
        sh("ip", "addr", "add", self.client_ip + "/24", "dev", self.bridge)
        sh("ip", "addr", "add", self.etcd_ip + "/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for n in self.nodes:
            ns, host, peer = self.ns(n), "%s%dh%d" % (PREFIX, self.pid, n), "%s%dp%d" % (PREFIX, self.pid, n)
            sh("ip", "netns", "add", ns)
            self.created_ns.append(ns)
            sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
            self.created_links.append(host)
            sh("ip", "link", "set", host, "master", self.bridge)
            sh("ip", "link", "set", host, "up")
            sh("ip", "-n", ns, "addr", "add", self.ip(n) + "/24", "dev", peer)
            sh("ip", "-n", ns, "link", "set", peer, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            self.nft(n, "add table inet chaos\n"
                        "add chain inet chaos in { type filter hook input priority 0; policy accept; }\n"
                        "add chain inet chaos out { type filter hook output priority 0; policy accept; }\n")
        return self

    def nft(self, n, script):
        sh("ip", "netns", "exec", self.ns(n), "nft", "-f", "-", input=script)

    def cut(self, n, addrs, inbound=True, outbound=True):
        """Node n drops packets from (inbound) and/or to (outbound) the given addresses."""
        if not addrs:
            return
        s = "{ %s }" % ", ".join(addrs)
        script = ""
        if inbound:
            script += "add rule inet chaos in ip saddr %s drop\n" % s
        if outbound:
            script += "add rule inet chaos out ip daddr %s drop\n" % s
        self.nft(n, script)

    def heal(self, n=None):
        for m in ([n] if n is not None else self.nodes):
            self.nft(m, "flush chain inet chaos in\nflush chain inet chaos out\n")

    def rules(self, n):
        return sh("ip", "netns", "exec", self.ns(n), "nft", "list", "table", "inet", "chaos", check=False)

    def teardown(self):
        for ns in self.created_ns:
            sh("ip", "netns", "del", ns, check=False)
        for link in self.created_links:
            sh("ip", "link", "del", link, check=False)
        self.created_ns, self.created_links = [], []
