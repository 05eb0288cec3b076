#!/usr/bin/python3
"""runnel's fault-injection harness (issue 11): a real etcd and three brokers, each
broker in its own network namespace; a seeded nemesis that kills, pauses,
partitions and restarts them; real clients (confluent-kafka) that produce with
acks=all, consume in a group and read in assign mode, and transactional producers
with a read_committed reader (transactions.py), every operation recorded; and the
checker (checker.py) run on the history at the end.

    sudo CHAOS_SECONDS=300 CHAOS_SEED=42 RUNNEL_BIN=build/runnel python3 tests/chaos/chaos.py

Environment: CHAOS_SECONDS (fault phase, default 300), CHAOS_SEED (default: random,
printed), CHAOS_FAULTS (comma-separated fault kinds, or all, the default), CHAOS_MIN_INSYNC (the
topic's min.insync.replicas, default 2), CHAOS_KEEP=1 (keep
the run dir even when the check passes), CHAOS_DIR (where run dirs go, default /tmp),
CHAOS_TXNS=0 (no transactional workload).
Exit: 0 checked OK, 1 violation or broker crash/hang, 2 harness error, 77 skipped.
"""
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "integration", "python"))

import checker  # noqa: E402
import harness  # noqa: E402
from harness import CLOSING, H, KEEP, Worker, anomaly, kafka_conf, log, now, wall  # noqa: E402
import netns  # noqa: E402
import transactions  # noqa: E402
from etcd import command as etcd_command  # noqa: E402  (the integration tests' etcd command line)

NODES = (1, 2, 3)
PORT = 9092
TOPIC = "chaos"
PARTITIONS = 4
GROUP = "chaos-group"
SESSION_MS = 3000  # broker.session.timeout.ms: the broker lease
MIN_INSYNC = int(os.environ.get("CHAOS_MIN_INSYNC", "2"))  # the topic's min.insync.replicas

FAULTS = ["kill-leader", "kill-follower", "kill-controller", "pause-leader", "pause-follower",
          "partition-leader", "partition-node-from-brokers", "partition-node-from-etcd",
          "partition-majority-from-etcd", "partition-bridge", "partition-oneway-leader",
          "kill-etcd", "rolling-restart", "kill-two", "kill-all", "power-leader", "power-follower", "power-all",
          "disk-full-leader", "disk-full-follower", "disk-error-leader", "elect-preferred", "reassign-leader"]
TXNS = os.environ.get("CHAOS_TXNS", "1") != "0"  # the transactional workload (transactions.py)
DISK_MB = int(os.environ.get("CHAOS_DISK_MB", "256"))  # each broker's data dir is a tmpfs this large

def crash_report(logpath):
    """The last crash report a broker wrote to its log (app/crash_report.h: signal, thread,
    stack), as text for an anomaly, or "" when the log has none."""
    try:
        with open(logpath, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    start = text.rfind("runnel: fatal ")
    if start < 0:
        return ""
    end = text.find("runnel: end of the crash report", start)
    lines = text[start:end if end >= 0 else len(text)].splitlines()[:40]
    return "\n".join("    " + line for line in lines)


def _register_pid(pid):
    d = os.environ.get("RUNNEL_IT_PIDS")
    if d:
        open(os.path.join(d, str(pid)), "w").close()


def wait_port(host, port, timeout, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------- processes

class Etcd:
    def __init__(self, net, rundir):
        self.net, self.dir = net, os.path.join(rundir, "etcd")
        os.makedirs(self.dir, exist_ok=True)
        self.port, self.peer_port = 2379, 2380
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (self.net.etcd_ip, self.port)

    def start(self):
        if CLOSING.is_set():
            return
        peer = "http://%s:%d" % (self.net.etcd_ip, self.peer_port)
        args = etcd_command("chaos", os.path.join(self.dir, "data"), self.url, peer,
                            os.path.join(self.dir, "etcd.log"))
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _register_pid(self.proc.pid)
        if not wait_port(self.net.etcd_ip, self.port, 30, self.proc):
            raise RuntimeError("etcd did not start on %s (see %s)" % (self.url, self.dir))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()


class Node:
    def __init__(self, n, net, etcd, rundir, binary):
        self.n, self.net, self.etcd, self.binary = n, net, etcd, binary
        self.dir = os.path.join(rundir, "broker%d" % n)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        # Its own small file system, so that a fault can fill it (disk-full-*).
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % DISK_MB, "tmpfs", self.data], check=True)
        self.ballast = os.path.join(self.data, "ballast")
        self.logpath = os.path.join(self.dir, "broker.log")
        self.proc = None
        self.paused = False
        self.expected_down = True

    @property
    def addr(self):
        return "%s:%d" % (self.net.ip(self.n), PORT)

    def start(self, timeout=45):
        if self.alive() or CLOSING.is_set():
            return self.alive()
        sets = {"broker.session.timeout.ms": SESSION_MS, "replica.lag.time.max.ms": 2000,
                "min.insync.replicas": MIN_INSYNC, "default.replication.factor": 3, "num.partitions": PARTITIONS,
                "offsets.topic.replication.factor": 3, "offsets.topic.num.partitions": 3,
                "auto.create.topics.enable": "false", "group.initial.rebalance.delay.ms": 0,
                "log.segment.bytes": 256 * 1024}
        args = ["ip", "netns", "exec", self.net.ns(self.n), self.binary, "serve", "--data-dir", self.data,
                "--listen", self.addr, "--advertise", self.addr, "--node-id", str(self.n), "--etcd", self.etcd.url,
                # Test mode: SIGUSR2 drops every unsynced write and exits (a power cut).
                "--fault-injection"]
        for k, v in sets.items():
            args += ["--set", "%s=%s" % (k, v)]
        with open(self.logpath, "ab") as f:
            f.write(("\n==== chaos: start at %.1f s (%s UTC)\n" % (now(), wall())).encode())
            f.flush()
            self.proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _register_pid(self.proc.pid)
        self.paused = False
        self.expected_down = False
        if not wait_port(self.net.ip(self.n), PORT, timeout, self.proc):
            rc = self.proc.poll()
            anomaly("broker %d did not come up within %d s (%s); log %s" % (
                self.n, timeout, "exited %s" % rc if rc is not None else "still running", self.logpath)
                + ("\n" + crash_report(self.logpath) if rc is not None and rc < 0 else ""))
            return False
        return True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.expected_down = True
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self.paused = False

    def fill_disk(self):
        """Fills the data dir's file system to the last byte with a ballast file."""
        fd = os.open(self.ballast, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            st = os.statvfs(self.data)
            try:
                os.posix_fallocate(fd, 0, max(st.f_bavail * st.f_frsize - 65536, 4096))
            except OSError:
                pass
            chunk = b"\0" * 4096
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:
                    break
        finally:
            os.close(fd)

    def free_disk(self):
        try:
            os.unlink(self.ballast)
        except OSError:
            pass

    def fail_syncs(self, partition_dirs):
        """Every fdatasync under these partition directories fails with EIO from now
        on (--fault-injection, SIGUSR1): they go offline until the broker restarts."""
        with open(os.path.join(self.data, "fail-syncs"), "w") as f:
            f.write("".join(d + "\n" for d in partition_dirs))
        if self.alive():
            self.proc.send_signal(signal.SIGUSR1)

    def unmount(self):
        subprocess.run(["umount", "-l", self.data], capture_output=True)

    def power_cut(self, timeout=30):
        """SIGUSR2 under --fault-injection: what was not fdatasync'd is
        dropped and the broker exits with code 99, as if its power failed."""
        self.expected_down = True
        if not self.alive():
            return
        if self.paused:
            self.cont()
        self.proc.send_signal(signal.SIGUSR2)
        try:
            rc = self.proc.wait(timeout)
            if rc != 99:
                anomaly("broker %d exited with %s on a power cut (expected 99); log %s" % (self.n, rc, self.logpath))
        except subprocess.TimeoutExpired:
            anomaly("broker %d did not cut its power within %d s (SIGKILLed); log %s" % (self.n, timeout, self.logpath))
            self.proc.kill()
            self.proc.wait()
        self.paused = False

    def term(self, timeout=30):
        """SIGTERM; a broker that does not stop in time is a hang (then SIGKILLed)."""
        self.expected_down = True
        if not self.alive():
            return
        if self.paused:
            self.cont()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
            if rc not in (0, -signal.SIGTERM):
                anomaly("broker %d exited with %s on SIGTERM; log %s" % (self.n, rc, self.logpath))
        except subprocess.TimeoutExpired:
            anomaly("broker %d did not stop within %d s of SIGTERM (SIGKILLed); log %s" % (
                self.n, timeout, self.logpath))
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def cont(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False


# ---------------------------------------------------------------- cluster view

class Cluster:
    def __init__(self, rundir, binary):
        self.net = netns.Net(NODES, log=log)
        self.rundir = rundir
        self.binary = binary
        self.etcd = None
        self.nodes = {}

    @property
    def bootstrap(self):
        return ",".join(self.nodes[n].addr for n in NODES)

    def start(self):
        self.net.setup()
        log("network: bridge %s, brokers %s, etcd %s, clients from %s" % (
            self.net.bridge, ", ".join(self.net.ip(n) for n in NODES), self.net.etcd_ip, self.net.client_ip))
        self.etcd = Etcd(self.net, self.rundir)
        self.etcd.start()
        for n in NODES:
            self.nodes[n] = Node(n, self.net, self.etcd, self.rundir, self.binary)
            if not self.nodes[n].start():
                raise RuntimeError("broker %d did not start:\n%s" % (n, open(self.nodes[n].logpath).read()[-3000:]))

    def metadata(self, timeout=5):
        """(controller id, {partition: (leader, replicas, isr)}, brokers) or None."""
        from confluent_kafka.admin import AdminClient
        try:
            a = AdminClient(kafka_conf(self.bootstrap))
            md = a.list_topics(topic=TOPIC, timeout=timeout)
        except Exception:
            return None
        t = md.topics.get(TOPIC)
        parts = {}
        if t is not None and t.error is None:
            parts = {p: (pm.leader, list(pm.replicas), list(pm.isrs)) for p, pm in t.partitions.items()}
        return md.controller_id, parts, sorted(md.brokers)

    def settled(self):
        md = self.metadata()
        if not md:
            return False
        ctrl, parts, brokers = md
        return (ctrl in NODES and brokers == list(NODES) and len(parts) == PARTITIONS and
                all(l in NODES and sorted(isr) == list(NODES) for l, _, isr in parts.values()))

    def wait_settled(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.settled():
                return True
            time.sleep(1)
        return False

    def create_topic(self, topic=TOPIC, partitions=PARTITIONS):
        from confluent_kafka.admin import AdminClient, NewTopic
        a = AdminClient(kafka_conf(self.bootstrap))
        deadline = time.time() + 60
        while True:
            try:
                f = a.create_topics([NewTopic(topic, partitions, 3, config={"min.insync.replicas": str(MIN_INSYNC)})],
                                    operation_timeout=20)
                f[topic].result(30)
                break
            except Exception as e:
                if "TOPIC_ALREADY_EXISTS" in str(e):
                    break
                if time.time() > deadline:
                    raise
                log("create topic: %s; retrying" % e)
                time.sleep(1)
        if topic == TOPIC and not self.wait_settled(60):
            raise RuntimeError("topic %s did not get leaders and full ISRs: %r" % (TOPIC, self.metadata()))

    def heal_all(self):
        self.net.heal()
        if not self.etcd.alive():
            self.etcd.start()
        for n in NODES:
            nd = self.nodes[n]
            if nd.paused:
                nd.cont()
            if not nd.alive():
                nd.start()

    def check_crashes(self):
        for n in NODES:
            nd = self.nodes[n]
            if not nd.expected_down and nd.proc is not None and nd.proc.poll() is not None:
                rc = nd.proc.returncode
                anomaly("broker %d exited by itself (rc %s); log %s" % (n, rc, nd.logpath)
                        + ("\n" + crash_report(nd.logpath) if rc < 0 else ""))
                nd.expected_down = True
                nd.start()
        if self.etcd.proc is not None and self.etcd.proc.poll() is not None and not getattr(self.etcd, "down", False):
            anomaly("etcd exited by itself (rc %s)" % self.etcd.proc.returncode)
            self.etcd.start()

    def shutdown(self, keep_data=False):
        """Stops everything. keep_data: first copy each broker's data dir (a tmpfs, gone
        once unmounted) to data-at-end/ beside it, for a failed run's post-mortem."""
        for nd in self.nodes.values():
            try:
                if nd.alive():
                    nd.proc.send_signal(signal.SIGCONT)
                    nd.proc.kill()
                    nd.proc.wait(10)
            except Exception:
                pass
        try:
            if self.etcd is not None:
                self.etcd.kill9()
        except Exception:
            pass
        for nd in self.nodes.values():
            if keep_data:
                try:
                    shutil.copytree(nd.data, os.path.join(os.path.dirname(nd.data), "data-at-end"), symlinks=True)
                except Exception as e:  # a post-mortem aid: never fail the run for it
                    log("could not keep %s: %s" % (nd.data, e))
            nd.unmount()
        self.net.teardown()


# ---------------------------------------------------------------- nemesis

class Nemesis(threading.Thread):
    def __init__(self, cluster, rng, seconds, kinds):
        super().__init__(name="nemesis", daemon=True)
        self.c, self.rng, self.seconds, self.kinds = cluster, rng, seconds, kinds
        self.stop_flag = threading.Event()
        self.error = None

    def sleep(self, s):
        end = time.time() + s
        while time.time() < end:
            self.c.check_crashes()
            if self.stop_flag.wait(min(0.5, max(0.0, end - time.time()))):
                return

    def roles(self):
        """(controller, leader of a chosen partition, a follower of it), seeded choices."""
        p = self.rng.randrange(PARTITIONS)
        md = self.c.metadata()
        pick = self.rng.random()
        live = [n for n in NODES if self.c.nodes[n].alive()]
        if not md or p not in md[1]:
            fallback = live[int(pick * len(live))] if live else NODES[0]
            return fallback, fallback, fallback, p
        ctrl, parts, _ = md
        leader, replicas, isr = parts[p]
        if leader not in NODES:
            leader = live[int(pick * len(live))] if live else NODES[0]
        followers = sorted(n for n in NODES if n != leader)
        follower = followers[int(pick * len(followers))]
        if ctrl not in NODES:
            ctrl = leader
        return ctrl, leader, follower, p

    def others(self, n):
        return [self.c.net.ip(m) for m in NODES if m != n]

    def run(self):
        try:
            self.loop()
        except Exception:
            self.error = traceback.format_exc()
            log("nemesis failed:\n" + self.error)

    def loop(self):
        end = time.time() + self.seconds
        self.sleep(self.rng.uniform(3, 6))
        while time.time() < end and not self.stop_flag.is_set():
            kind = self.rng.choice(self.kinds)
            dur = self.rng.uniform(SESSION_MS / 1000 * 1.5, SESSION_MS / 1000 * 4)
            quiet = self.rng.uniform(2, 8)
            self.fault(kind, dur)
            self.sleep(quiet)

    def fault(self, kind, dur):
        c, net = self.c, self.c.net
        ctrl, leader, follower, p = self.roles()
        target = {"kill-controller": ctrl, "kill-follower": follower, "pause-follower": follower,
                  "power-follower": follower, "disk-full-follower": follower}.get(kind, leader)
        info = {"target": target, "partition": p, "duration": round(dur, 1)}
        if kind == "partition-bridge":
            a = target
            b = [n for n in NODES if n != a][self.rng.randrange(2)]
            info["cut"] = [a, b]
        if kind in ("rolling-restart", "kill-all", "power-all"):
            order = list(NODES)
            self.rng.shuffle(order)
            info = {"order": order, "duration": round(dur, 1)}
        if kind == "kill-two":
            info["then"] = follower
        log("nemesis: %s %s" % (kind, json.dumps(info)))
        H.add(f="nemesis", type="start", kind=kind, **info)
        if kind == "kill-two":
            # the leader, then a follower of the same partition: one replica left
            c.nodes[target].kill9()
            self.sleep(self.rng.uniform(0.2, 2))
            c.nodes[follower].kill9()
            self.sleep(dur)
            c.nodes[follower].start()
            self.sleep(self.rng.uniform(0.5, 3))
            c.nodes[target].start()
        elif kind == "kill-all":
            # every broker at once, as a power cut of the whole cluster would (etcd stays)
            for n in info["order"]:
                c.nodes[n].kill9()
            self.sleep(dur / 2)
            for n in info["order"]:
                c.nodes[n].start()
        elif kind == "power-all":
            # the whole cluster loses power: every broker's unsynced writes are gone (etcd stays)
            for n in info["order"]:
                c.nodes[n].power_cut()
            self.sleep(dur / 2)
            for n in info["order"]:
                c.nodes[n].start()
        elif kind == "disk-error-leader":
            # the leader's disk fails under one partition: that partition goes offline there and
            # its leadership moves; the broker is restarted (repaired) after the period
            c.nodes[target].fail_syncs(["%s-%d" % (TOPIC, p)])
            self.sleep(dur)
            c.nodes[target].term()
            try:
                os.unlink(os.path.join(c.nodes[target].data, "fail-syncs"))
            except OSError:
                pass
            c.nodes[target].start()
        elif kind.startswith("disk-full-"):
            # its file system full: appends fail (KAFKA_STORAGE_ERROR), nothing stored may be lost,
            # and the broker carries on by itself once space is freed
            c.nodes[target].fill_disk()
            self.sleep(dur)
            c.nodes[target].free_disk()
        elif kind.startswith("power-"):
            c.nodes[target].power_cut()
            self.sleep(dur)
            c.nodes[target].start()
        elif kind.startswith("kill-") and kind != "kill-etcd":
            c.nodes[target].kill9()
            self.sleep(dur)
            c.nodes[target].start()
        elif kind.startswith("pause-"):
            c.nodes[target].stop()
            self.sleep(dur)
            c.nodes[target].cont()
        elif kind == "partition-leader":
            # the leader loses the other brokers and etcd; clients still reach it
            net.cut(target, self.others(target) + [net.etcd_ip])
            self.sleep(dur)
            net.heal()
        elif kind == "partition-node-from-brokers":
            # minority {target} keeps etcd (and its lease), loses both peers
            net.cut(target, self.others(target))
            self.sleep(dur)
            net.heal()
        elif kind == "partition-node-from-etcd":
            net.cut(target, [net.etcd_ip])
            self.sleep(dur)
            net.heal()
        elif kind == "partition-majority-from-etcd":
            # {target, etcd} | {the other two}: the majority of brokers loses the control plane
            for m in NODES:
                if m != target:
                    net.cut(m, [net.ip(target), net.etcd_ip])
            self.sleep(dur)
            net.heal()
        elif kind == "partition-bridge":
            a, b = info["cut"]
            net.cut(a, [net.ip(b)])
            net.cut(b, [net.ip(a)])
            self.sleep(dur)
            net.heal()
        elif kind == "partition-oneway-leader":
            # the leader hears nobody (brokers nor etcd) but its packets still go out
            net.cut(target, self.others(target) + [net.etcd_ip], inbound=True, outbound=False)
            self.sleep(dur)
            net.heal()
        elif kind == "elect-preferred":
            # the leader goes away and comes back a follower; an operator then asks for the
            # preferred leaders of every partition (ElectLeaders, as kafka-leader-election.sh
            # --all-topic-partitions) through any broker, while the workload runs
            c.nodes[target].kill9()
            self.sleep(dur)
            c.nodes[target].start()
            self.sleep(self.rng.uniform(1, 5))
            via = NODES[self.rng.randrange(len(NODES))]
            log("nemesis: elect-preferred through %d: %s" % (via, elect_preferred(net.ip(via))))
        elif kind == "reassign-leader":
            # an operator moves the partition off its leader (kafka-reassign-partitions.sh:
            # replicas 3 -> 2, the leader's replica deleted, leadership handed over) and, after
            # the period, back onto it (a fresh replica copies the whole log), through random
            # brokers, while the workload runs
            staying = [n for n in NODES if n != target]
            self.rng.shuffle(staying)
            back = staying + [target]
            for replicas in (staying, back):
                via = NODES[self.rng.randrange(len(NODES))]
                log("nemesis: reassign %s-%d to %s through %d: %s" % (
                    TOPIC, p, replicas, via, reassign(net.ip(via), p, replicas)))
                if replicas is staying:
                    self.sleep(dur)
        elif kind == "kill-etcd":
            c.etcd.down = True
            c.etcd.kill9()
            self.sleep(dur)
            c.etcd.start()
            c.etcd.down = False
        elif kind == "rolling-restart":
            for n in info["order"]:
                c.nodes[n].term()
                c.nodes[n].start()
                # let it register and catch up before the next one (bounded: correctness, not speed)
                deadline = time.time() + 30
                while time.time() < deadline and not self.stop_flag.is_set() and not c.settled():
                    self.sleep(1)
        else:
            raise ValueError(kind)
        H.add(f="nemesis", type="stop", kind=kind, wall=time.time())
        log("nemesis: healed %s" % kind)


def reassign(ip, partition, replicas, timeout=30):
    """AlterPartitionReassignments v0 of one partition of TOPIC through the broker at `ip`:
    (top-level error, partition error), or the exception's text when the broker cannot
    answer (down, cut off)."""
    import kproto
    part = kproto.i32(partition) + kproto.carray([kproto.i32(n) for n in replicas]) + kproto.NO_TAGS
    body = kproto.i32(30000) + kproto.carray([kproto.cstring(TOPIC) + kproto.carray([part]) + kproto.NO_TAGS])
    try:
        c = kproto.Conn(PORT, timeout=timeout, host=ip)
        try:
            c.send(kproto.frame(kproto.header_v2(45, 0, 1) + body + kproto.NO_TAGS))
            r = kproto.VersionedReader(c.recv_frame(), True)
        finally:
            c.close()
        r.i32()  # throttle
        top = r.i16()
        r.string()
        errors = []

        def partition_result():
            r.i32()
            errors.append(r.i16())
            r.string()
            r.tags()

        def topic():
            r.string()
            r.array(partition_result)
            r.tags()

        r.array(topic)
        return top, errors
    except (OSError, ValueError) as e:
        return str(e)


def elect_preferred(ip, timeout=10):
    """ElectLeaders v2, PREFERRED, every partition, through the broker at `ip`:
    (top-level error, {"topic-partition": error}) for the partitions it lists, or the
    exception's text when the broker cannot answer (down, cut off)."""
    import kproto
    body = kproto.i8(0) + kproto.carray(None) + kproto.i32(30000) + kproto.NO_TAGS
    try:
        c = kproto.Conn(PORT, timeout=timeout, host=ip)
        try:
            c.send(kproto.frame(kproto.header_v2(43, 2, 1) + body))
            r = kproto.VersionedReader(c.recv_frame(), True)
        finally:
            c.close()
        r.i32()  # throttle
        top = r.i16()
        out = {}

        def partition(topic):
            p, err = r.i32(), r.i16()
            r.string()
            r.tags()
            out["%s-%d" % (topic, p)] = err

        def topic():
            name = r.string()
            r.array(lambda: partition(name))
            r.tags()

        r.array(topic)
        return top, out
    except (OSError, ValueError) as e:
        return str(e)


# ---------------------------------------------------------------- workloads

class ProducerWorker(Worker):
    """Keyed acks=all sends. A worker whose name starts with "idem-" has
    enable.idempotence on: the checker then allows it no duplicates, except those
    of librdkafka's own epoch bumps (EpochBumpRecorder)."""

    def new_producer(self):
        from confluent_kafka import Producer

        def on_error(err):
            from confluent_kafka import KafkaError
            if err.fatal() or err.code() not in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
                                                 KafkaError._RESOLVE, KafkaError._TIMED_OUT):
                log("%s: producer error%s: %s" % (self.proc, " (fatal)" if err.fatal() else "", err))
        idempotent = self.proc.startswith("idem-")
        return Producer(kafka_conf(self.c.bootstrap, self.proc, record_epoch_bumps=idempotent, error_cb=on_error, **{
            "acks": "all", "enable.idempotence": idempotent, "linger.ms": 5,
            "message.timeout.ms": 20000, "request.timeout.ms": 5000, "retry.backoff.ms": 100,
            "max.in.flight.requests.per.connection": 5}))

    def work(self):
        from confluent_kafka import KafkaError, KafkaException

        def retire(p):
            """Lets a producer in a fatal state deliver what it still can (each record gets
            its delivery report, failed ones as indeterminate); its flush() raises the fatal
            error again, which changes nothing here."""
            try:
                p.flush(5)
            except KafkaException:
                pass
            KEEP.append(p)
        p = self.new_producer()
        pending = {}
        fatal = []

        def done(err, msg):
            val = msg.value().decode()
            pending.pop(val, None)
            if err is None:
                H.add(f="send", type="ok", proc=self.proc, value=val, p=msg.partition(), o=msg.offset())
            else:
                # a timeout or a retried error is indeterminate: the record may be there
                definite = err.code() in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE)
                H.add(f="send", type="fail" if definite else "info", proc=self.proc, value=val,
                      err=err.name(), p=msg.partition())
                if err.fatal():
                    fatal.append(err.name())
        seq = 0
        while not self.stop_flag.is_set():
            if fatal:
                # An idempotent producer's fatal error (e.g. a gap after message.timeout.ms):
                # librdkafka gives up on that producer; the application starts a new one.
                log("%s: fatal producer error %s: a new producer" % (self.proc, fatal[0]))
                H.add(f="producer-restart", proc=self.proc, err=fatal[0])
                fatal.clear()
                retire(p)
                p = self.new_producer()
            key = "k%d" % self.rng.randrange(32)
            val = "%s-%d" % (self.proc, seq)
            seq += 1
            H.add(f="send", type="invoke", proc=self.proc, value=val, key=key)
            pending[val] = True
            while True:
                try:
                    p.produce(TOPIC, key=key.encode(), value=val.encode(), on_delivery=done)
                    break
                except BufferError:
                    p.poll(0.1)
                except KafkaException as e:
                    # produce() on a producer in a fatal state raises _FATAL (its .fatal() is not set)
                    if not (e.args[0].fatal() or e.args[0].code() == KafkaError._FATAL):
                        raise
                    # not sent: the new producer sends it (this loop goes round again)
                    fatal.append(e.args[0].name())
                    retire(p)
                    log("%s: fatal producer error %s (%s): a new producer" % (self.proc, fatal[0], e.args[0].str()))
                    H.add(f="producer-restart", proc=self.proc, err=fatal[0])
                    fatal.clear()
                    p = self.new_producer()
            p.poll(0)
            time.sleep(self.rng.uniform(0.005, 0.03))
        p.flush(30)
        KEEP.append(p)
        for val in list(pending):
            H.add(f="send", type="info", proc=self.proc, value=val, err="not completed at shutdown")


class GroupConsumerWorker(Worker):
    def work(self):
        from confluent_kafka import Consumer, KafkaException
        self.epoch = 0

        def assigned(consumer, parts):
            self.epoch += 1
            H.add(f="assign", type="ok", proc=self.proc, epoch=self.epoch, parts=[tp.partition for tp in parts])

        def revoked(consumer, parts):
            self.epoch += 1
            H.add(f="revoke", type="ok", proc=self.proc, epoch=self.epoch, parts=[tp.partition for tp in parts])
        c = Consumer(kafka_conf(self.c.bootstrap, self.proc, **{
            "group.id": GROUP, "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 200,
            "enable.partition.eof": False}))
        c.subscribe([TOPIC], on_assign=assigned, on_revoke=revoked)
        last_commit = time.time()
        while not self.stop_flag.is_set():
            m = c.poll(0.3)
            if m is not None and m.error() is None:
                H.add(f="read", type="ok", proc=self.proc, epoch=self.epoch, p=m.partition(), o=m.offset(),
                      value=m.value().decode())
            if time.time() - last_commit > self.rng.uniform(0.5, 2):
                last_commit = time.time()
                H.add(f="commit", type="invoke", proc=self.proc, epoch=self.epoch)
                try:
                    res = c.commit(asynchronous=False)
                    offs = {str(tp.partition): tp.offset for tp in (res or []) if tp.error is None and tp.offset >= 0}
                    H.add(f="commit", type="ok", proc=self.proc, epoch=self.epoch, offsets=offs)
                except KafkaException as e:
                    H.add(f="commit", type="fail", proc=self.proc, epoch=self.epoch, err=str(e.args[0].name()))
        KEEP.append(c)


class CommittedProbe(Worker):
    """Reads the group's committed offsets about once a second (OffsetFetch only; it never joins)."""

    def work(self):
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer(kafka_conf(self.c.bootstrap, self.proc, **{"group.id": GROUP, "enable.auto.commit": False}))
        while not self.stop_flag.wait(1.0):
            t0 = now()
            try:
                res = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)], timeout=5)
                H.add(f="committed", type="ok", proc=self.proc, t0=t0,
                      offsets={str(tp.partition): tp.offset for tp in res if tp.error is None})
            except Exception as e:
                H.add(f="committed", type="fail", proc=self.proc, t0=t0, err=str(e)[:100])
        KEEP.append(c)


class ReaderWorker(Worker):
    """assign()s every partition and reads; starts over now and then (first from the
    beginning, later from a seeded offset within what it has read)."""

    def work(self):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        epoch = 0
        seen = {}
        while not self.stop_flag.is_set():
            epoch += 1
            c = Consumer(kafka_conf(self.c.bootstrap, self.proc, **{
                "group.id": "%s-%d" % (self.proc, epoch), "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "fetch.wait.max.ms": 200, "enable.partition.eof": False}))
            # from the beginning, then (so that long runs do not read everything again and
            # again) from a seeded point in what it has seen so far
            start = {p: OFFSET_BEGINNING if epoch == 1 else self.rng.randint(0, seen.get(p, 0))
                     for p in range(PARTITIONS)}
            c.assign([TopicPartition(TOPIC, p, o) for p, o in start.items()])
            H.add(f="assign", type="ok", proc=self.proc, epoch=epoch, parts=list(range(PARTITIONS)),
                  start={str(p): o for p, o in start.items()})
            until = time.time() + self.rng.uniform(15, 40)
            while time.time() < until and not self.stop_flag.is_set():
                for m in c.consume(100, 0.3):
                    if m.error() is None:
                        H.add(f="read", type="ok", proc=self.proc, epoch=epoch, p=m.partition(), o=m.offset(),
                              value=m.value().decode())
                        seen[m.partition()] = max(seen.get(m.partition(), 0), m.offset())
            c.close()


def final_read(cluster, timeout=120):
    """Every record of every partition, up to its high watermark, into the history.
    A partition without a high watermark by the deadline is an anomaly (unavailable
    after healing); the checker then skips it."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(kafka_conf(cluster.bootstrap, "final", **{
        "group.id": "chaos-final", "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "enable.partition.eof": False, "fetch.wait.max.ms": 100}))
    deadline = time.time() + timeout
    ends = {}
    for p in range(PARTITIONS):
        while True:
            try:
                lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=5)
                ends[p] = hi
                if lo != 0:
                    anomaly("partition %d: log start offset is %d, not 0, after the run" % (p, lo))
                break
            except Exception as e:
                if time.time() > deadline:
                    anomaly("final read: partition %d has no high watermark %d s after healing (unavailable): %s"
                            % (p, timeout, e))
                    break
                time.sleep(1)
    got = collections.defaultdict(dict)
    c.assign([TopicPartition(TOPIC, p, 0) for p in ends])
    deadline = max(deadline, time.time() + 60)
    while any(len(got[p]) < ends[p] for p in ends) and time.time() < deadline:
        for m in c.consume(500, 0.5):
            if m.error() is None and m.offset() < ends[m.partition()]:
                got[m.partition()][m.offset()] = m.value().decode()
    KEEP.append(c)
    for p in range(PARTITIONS):
        if p not in ends:
            H.add(f="final-end", type="fail", p=p, end=None, read=0)
            continue
        H.add(f="final-end", type="ok", p=p, end=ends[p], read=len(got[p]))
        for o in sorted(got[p]):
            H.add(f="final", type="ok", p=p, o=o, value=got[p][o])
        if len(got[p]) < ends[p]:
            anomaly("final read: partition %d gave %d of %d records within %d s" % (p, len(got[p]), ends[p], timeout))
    return ends


def segment_bytes(data, topic, p):
    d = os.path.join(data, "%s-%d" % (topic, p))
    out = b""
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if name.endswith(".log"):
            with open(os.path.join(d, name), "rb") as f:
                out += f.read()
    return out


def replicas_identical(cluster):
    bad = []
    for topic, partitions in ((TOPIC, PARTITIONS), (transactions.TXN_TOPIC, transactions.TXN_PARTITIONS),
                              (transactions.COPY_TOPIC, transactions.TXN_PARTITIONS)):
        for p in range(partitions):
            logs = {n: segment_bytes(cluster.nodes[n].data, topic, p) for n in NODES}
            if len(set(logs.values())) > 1:
                bad.append("%s-%d: %s" % (topic, p, ", ".join("broker %d %d bytes" % (n, len(b))
                                                               for n, b in sorted(logs.items()))))
    return bad


# ---------------------------------------------------------------- main

def isr_recovery(cluster, history):
    """How long the cluster stays degraded after a fault ends: per heal, the seconds until
    every partition's ISR is full again, from the brokers' "partition P: ISR a -> b" lines
    (a measurement, not a check: the settle wait at the end bounds it)."""
    changes = []  # (wall time, partition, ISR full)
    for node in cluster.nodes.values():
        try:
            lines = open(node.logpath, errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            m = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\] \[info\] partition (\S+): ISR \S+ -> (\S+) ", line)
            if m:
                t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%d %H:%M:%S"))  # spdlog: local time
                t = t + float("0" + m.group(1)[19:])
                changes.append((t, m.group(2), len(m.group(3).split(",")) == len(NODES)))
    changes.sort()
    took, never = [], 0
    for heal in (e["wall"] for e in history if e["f"] == "nemesis" and e["type"] == "stop" and "wall" in e):
        full = {p: f for t, p, f in changes if t <= heal}  # the last change before the heal wins
        if all(full.values()):
            continue
        for t, p, f in changes:
            if t <= heal:
                continue
            full[p] = f
            if all(full.values()):
                took.append(t - heal)
                break
        else:
            never += 1
    if not took and not never:
        return "chaos: no fault left an ISR short"
    took.sort()
    return "chaos: ISR full again after a heal: %d of %d heals, median %.2f s, max %.2f s" % (
        len(took), len(took) + never, took[len(took) // 2] if took else 0, took[-1] if took else 0)


def main():
    if os.geteuid() != 0:
        print("chaos: SKIP: needs root (network namespaces, nftables)")
        return 77
    for tool in ("/usr/sbin/ip", "/usr/sbin/nft", "/usr/bin/etcd"):
        if not os.access(tool, os.X_OK):
            print("chaos: %s is missing (make deps installs iproute2, nftables, etcd-server)" % tool)
            return 2
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        print("chaos: python3-confluent-kafka is missing (make deps installs it)")
        return 2
    binary = os.path.abspath(os.environ.get("RUNNEL_BIN", "build/runnel"))
    if not os.access(binary, os.X_OK):
        print("chaos: runnel binary not found: %s (set RUNNEL_BIN)" % binary)
        return 2
    seconds = float(os.environ.get("CHAOS_SECONDS", "300"))
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
    wanted = os.environ.get("CHAOS_FAULTS") or "all"
    kinds = list(FAULTS) if wanted == "all" else [k for k in wanted.split(",") if k]
    for k in kinds:
        if k not in FAULTS:
            print("chaos: unknown fault kind %r; known: %s" % (k, ", ".join(FAULTS)))
            return 2
    rundir = os.path.join(os.environ.get("CHAOS_DIR", "/tmp"), "runnel-chaos-%d-%d" % (seed, os.getpid()))
    os.makedirs(rundir)
    harness.CLIENT_LOG_DIR = os.path.join(rundir, "clients")
    os.makedirs(harness.CLIENT_LOG_DIR)
    H.open(os.path.join(rundir, "history.jsonl"))
    print("chaos: seed %d (replay: CHAOS_SEED=%d CHAOS_SECONDS=%g), %g s of faults: %s%s" % (
        seed, seed, seconds, seconds, ",".join(kinds),
        "; min.insync.replicas=%d" % MIN_INSYNC if MIN_INSYNC != 2 else ""))
    print("chaos: run dir %s, runnel %s" % (rundir, binary))
    sys.stdout.flush()

    # Ctrl-C and SIGTERM (timeout) unwind through finally, which stops everything
    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, on_term)

    root = random.Random(seed)
    nemesis_rng, work_seed = random.Random(root.randrange(2 ** 62)), root.randrange(2 ** 62)
    cluster = Cluster(rundir, binary)
    workers, nem = [], None
    rc = 2
    try:
        cluster.start()
        cluster.create_topic()
        if TXNS:
            cluster.create_topic(transactions.TXN_TOPIC, transactions.TXN_PARTITIONS)
            cluster.create_topic(transactions.COPY_TOPIC, transactions.TXN_PARTITIONS)
        log("cluster up: %r" % (cluster.metadata(),))
        wr = random.Random(work_seed)
        # One idempotent producer, one not (CHAOS_IDEMPOTENT=0: neither).
        idem = os.environ.get("CHAOS_IDEMPOTENT", "1") != "0"
        workers = [ProducerWorker(("idem-producer-%d" if i == 0 and idem else "producer-%d") % i, cluster,
                                  random.Random(wr.randrange(2 ** 62))) for i in range(2)]
        workers += [GroupConsumerWorker("group-%d" % i, cluster, random.Random(wr.randrange(2 ** 62))) for i in range(2)]
        workers += [ReaderWorker("reader-%d" % i, cluster, random.Random(wr.randrange(2 ** 62))) for i in range(1)]
        workers += [CommittedProbe("probe-0", cluster, None)]
        if TXNS:  # seeded after the others, so that their seeds stay what they were
            workers += [transactions.TxnProducerWorker("txn-producer-%d" % i, cluster,
                                                       random.Random(wr.randrange(2 ** 62))) for i in range(2)]
            workers += [transactions.TxnReaderWorker("txn-reader-0", cluster, random.Random(wr.randrange(2 ** 62)))]
            workers += [transactions.CopierWorker("copier-0", cluster, random.Random(wr.randrange(2 ** 62)), TOPIC)]
        for w in workers:
            w.start()
        nem = Nemesis(cluster, nemesis_rng, seconds, kinds)
        nem.start()
        nem.join()
        log("fault phase over; healing everything")
        cluster.heal_all()
        time.sleep(5)  # the workload runs on a healed cluster for a moment
        for w in workers:
            w.stop_flag.set()
        for w in workers:
            w.join(60)
            if w.is_alive():
                frame = sys._current_frames().get(w.ident)
                where = "".join(traceback.format_stack(frame)[-4:]) if frame else "(no stack)"
                anomaly("%s did not stop within 60 s; it is in:\n%s" % (w.proc, where))
        cluster.check_crashes()
        if not cluster.wait_settled(120):
            anomaly("the cluster did not settle (leaders, full ISRs) within 120 s of healing: %r" % (
                cluster.metadata(),))
        log("after healing: %r" % (cluster.metadata(),))
        ends = final_read(cluster)
        log("final read: log ends %r" % ends)
        if TXNS:
            for topic, kind in ((transactions.TXN_TOPIC, "txn"), (transactions.COPY_TOPIC, "copy")):
                log("%s's final read: (high watermark, last stable offset) %r" % (
                    topic, transactions.final_read(cluster.bootstrap, topic, transactions.TXN_PARTITIONS, kind)))
            log("the copier's committed offsets: %r" % (
                transactions.copier_committed(cluster.bootstrap, TOPIC, PARTITIONS),))
        # the replicas converge to the same bytes once nothing is written
        deadline = time.time() + 30
        diff = replicas_identical(cluster)
        while diff and time.time() < deadline:
            time.sleep(2)
            diff = replicas_identical(cluster)
        if diff:
            anomaly("replica logs differ after settling: " + "; ".join(diff))
        cluster.check_crashes()
        errors = [w for w in workers + [nem] if w.error]
        H.dump(os.path.join(rundir, "history.jsonl"))
        print("chaos: seed %d" % seed)
        print(isr_recovery(cluster, H.events))
        rc = checker.report(H.events)
        anomalies = [e for e in H.events if e["f"] == "anomaly"]
        if errors:
            print("chaos: harness threads failed: %s" % ", ".join(w.name for w in errors))
            rc = max(rc, 2)
        if anomalies and rc == 0:
            rc = 1
    except KeyboardInterrupt:
        print("chaos: interrupted")
        rc = 130
    except Exception:
        traceback.print_exc()
        rc = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if nem is not None:
            nem.stop_flag.set()
        for w in workers:
            w.stop_flag.set()
        CLOSING.set()
        if nem is not None:
            nem.join(30)
        cluster.shutdown(keep_data=rc != 0)
        H.dump(os.path.join(rundir, "history.jsonl"))
        if rc == 0 and not os.environ.get("CHAOS_KEEP"):
            shutil.rmtree(rundir, ignore_errors=True)
        else:
            print("chaos: kept %s (broker logs in broker*/broker.log, history.jsonl; "
                  "re-check with: python3 tests/chaos/checker.py %s/history.jsonl)" % (rundir, rundir))
        print("chaos: seed %d, exit %d" % (seed, rc))
    return rc


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no destructors: see KEEP
