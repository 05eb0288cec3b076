"""What the chaos harness's parts share: the clock, the log, the history of operations,
librdkafka's configuration for the workload's clients, and the workers' base class.
chaos.py runs the cluster and the nemesis; workloads (chaos.py, transactions.py) record
into H. Thread-safe: History.add takes its lock; the rest is set once at start-up."""
import json
import logging
import os
import re
import sys
import threading
import time
import traceback

T0 = time.monotonic()


def now():
    return round(time.monotonic() - T0, 3)


def wall():
    return time.strftime("%H:%M:%S", time.gmtime()) + ".%03d" % (int(time.time() * 1000) % 1000)


def log(msg):
    sys.stdout.write("[%7.1f %s] %s\n" % (now(), wall(), msg))
    sys.stdout.flush()


class History:
    """Every event, in memory and streamed to RUN_DIR/history.jsonl as it happens (so that
    a harness that dies, e.g. on a client library's assertion, leaves its history behind)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.stream = None

    def open(self, path):
        self.stream = open(path + ".partial", "w", buffering=1)

    def add(self, **e):
        e.setdefault("t", now())
        with self.lock:
            self.events.append(e)
            if self.stream is not None:
                self.stream.write(json.dumps(e, sort_keys=True) + "\n")
        return e

    def dump(self, path):
        with self.lock:
            with open(path, "w") as f:
                for e in self.events:
                    f.write(json.dumps(e, sort_keys=True) + "\n")
            if self.stream is not None and os.path.exists(path + ".partial"):
                os.unlink(path + ".partial")


H = History()
CLOSING = threading.Event()  # set at shutdown: nothing starts any more
# librdkafka 2.0.2 (Debian 12) can abort in rd_kafka_broker_destroy_final while a client
# is destroyed after broker restarts; the workload's long-lived clients are therefore
# kept here, never destroyed, and the harness ends with os._exit.
KEEP = []


def anomaly(msg):
    """A broker crash or hang: not a checker invariant, but a bug all the same."""
    log("ANOMALY: " + msg)
    H.add(f="anomaly", type="info", msg=msg)


CLIENT_LOG_DIR = None


def client_logger(name):
    """librdkafka's log of one client, into RUN_DIR/clients/<name>.log (CHAOS_CLIENT_DEBUG adds debug contexts)."""
    lg = logging.getLogger("rdkafka." + name)
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    if CLIENT_LOG_DIR and not any(isinstance(h, logging.FileHandler) for h in lg.handlers):
        h = logging.FileHandler(os.path.join(CLIENT_LOG_DIR, name + ".log"))
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        lg.addHandler(h)
    return lg


class EpochBumpRecorder(logging.Handler):
    """Puts each epoch bump of an idempotent producer in the history, from librdkafka's debug
    line (context eos) "All partitions drained, bumped epoch to PID{Id:0,Epoch:7}".

    librdkafka bumps the epoch of the whole producer when a message times out
    (message.timeout.ms) or a request fails with skipped sequence numbers, and then renumbers
    every message it has not seen acknowledged, in every partition, under the new epoch: one
    that was written but whose acknowledgement it did not get (a timeout, or
    NOT_ENOUGH_REPLICAS_AFTER_APPEND) is written again, and no broker can tell it from a new
    record (INTRODUCTION.md, "Message timeout considerations"; the maintainers in
    librdkafka #4953: "it can have duplications in case messages time out because the epoch
    needs to be bumped"). The checker needs the bumps to tell those duplicates from a broker's."""

    def __init__(self, proc):
        super().__init__(logging.DEBUG)
        self.proc = proc

    def emit(self, record):
        m = re.search(r"bumped epoch to PID\{Id:(\d+),Epoch:(\d+)\}", record.getMessage())
        if m:
            H.add(f="epoch-bump", proc=self.proc, pid=int(m.group(1)), epoch=int(m.group(2)))


def kafka_conf(bootstrap, name=None, record_epoch_bumps=False, debug_contexts=(), **kw):
    """A librdkafka configuration; with a name, the client logs into CLIENT_LOG_DIR, with
    librdkafka's debug contexts `debug_contexts` (and CHAOS_CLIENT_DEBUG's) when given."""
    c = {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, "reconnect.backoff.ms": 50,
         "reconnect.backoff.max.ms": 1000, "log_level": 2, "error_cb": lambda err: None,
         "topic.metadata.refresh.interval.ms": 2000}
    debug = set()
    if name and CLIENT_LOG_DIR:
        c["logger"] = client_logger(name)
        c["log_level"] = 7 if os.environ.get("CHAOS_CLIENT_DEBUG") else 6
        if os.environ.get("CHAOS_CLIENT_DEBUG"):
            debug.update((os.environ["CHAOS_CLIENT_DEBUG"] if os.environ["CHAOS_CLIENT_DEBUG"] != "1" else
                          "fetch,topic,cgrp,metadata,broker,msg").split(","))
        c["client.id"] = name
        if debug_contexts:
            c["log_level"] = 7
            debug.update(debug_contexts)
    if record_epoch_bumps:
        lg = client_logger(name)
        if not any(isinstance(h, EpochBumpRecorder) for h in lg.handlers):
            lg.addHandler(EpochBumpRecorder(name))
        c["logger"] = lg
        c["log_level"] = 7
        debug.add("eos")
    if debug:
        c["debug"] = ",".join(sorted(debug))
    c.update(kw)
    return c


class Worker(threading.Thread):
    def __init__(self, name, cluster, rng):
        super().__init__(name=name, daemon=True)
        self.proc, self.c, self.rng = name, cluster, rng
        self.stop_flag = threading.Event()
        self.error = None

    def run(self):
        try:
            self.work()
        except Exception:
            self.error = traceback.format_exc()
            log("%s failed:\n%s" % (self.proc, self.error))
