"""Start and stop a real runnel broker for the integration tests.

    with Broker(sets={"num.partitions": 3}) as b:
        KafkaProducer(bootstrap_servers=b.bootstrap)

Every broker gets a free loopback port and a fresh temporary data directory.
The binary is $RUNNEL_BIN. stop() is idempotent and also runs at interpreter
exit, so a failing test never leaves a broker behind.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

_live = []


def _register_pid(pid):
    """run.sh passes RUNNEL_IT_PIDS, a directory where every started broker is
    listed, so that it can kill leftovers if a suite itself is killed."""
    d = os.environ.get("RUNNEL_IT_PIDS")
    if d:
        open(os.path.join(d, str(pid)), "w").close()


def _unregister_pid(pid):
    d = os.environ.get("RUNNEL_IT_PIDS")
    if d:
        try:
            os.unlink(os.path.join(d, str(pid)))
        except OSError:
            pass


_ports_handed_out = set()


def free_port():
    """A loopback port nothing listens on, never one this process handed out
    before: the kernel may give a just-closed port again, and two listeners of
    one broker (or two brokers) given the same port fail to start. Under
    run.sh, never one another suite was handed either ($RUNNEL_IT_PORTS): the
    suites run side by side, and a port one of them holds but has not bound
    yet is free to the kernel."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _ports_handed_out and _claim_for_the_run(port):
            _ports_handed_out.add(port)
            return port


def _claim_for_the_run(port):
    run_ports = os.environ.get("RUNNEL_IT_PORTS")
    if not run_ports:
        return True
    try:
        os.mkdir(os.path.join(run_ports, str(port)))
        return True
    except FileExistsError:
        return False


def metric(admin_port, sample):
    """The value of one sample of a broker's /metrics (its admin listener on
    `admin_port`), named with its labels as the text format writes it
    ('runnel_isr_shrinks_total', 'runnel_x_total{listener="PLAINTEXT"}'),
    or None when there is no such sample."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


def wait_port(port, timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Broker:
    def __init__(self, sets=None, binary=None, wrapper=None, args=None, plaintext_listener=True):
        """wrapper: a command prefix, e.g. ["prlimit", "--nofile=512:512", "--"]
        (it must exec the broker, so that proc.pid is the broker's).
        args: more command-line arguments, e.g. ["--node-id", "1", "--etcd", url].
        plaintext_listener: False leaves out --listen, so the broker has only
        the listeners `sets` gives it; self.port must then be one of them."""
        self.plaintext_listener = plaintext_listener
        self.args = list(args or [])
        self.binary = binary or os.environ.get("RUNNEL_BIN")
        self.wrapper = list(wrapper or [])
        if not self.binary:
            raise RuntimeError("RUNNEL_BIN is not set")
        # No admin listener unless a test asks for one (test_metrics.py): tests
        # run side by side, and the default port would be taken by the first.
        self.sets = {"num.partitions": 1, "auto.create.topics.enable": "true", "runnel.admin.listen": "off"}
        self.sets.update(sets or {})
        self.tmp = tempfile.mkdtemp(prefix="runnel-py-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.log_path = os.path.join(self.tmp, "broker.log")
        self.port = free_port()
        self.proc = None
        # The signal that ended the broker while a SIGTERM was shutting it
        # down (a crash in its clean shutdown), else None; cleanup() fails on it.
        self.crashed_on_stop = None
        _live.append(self)

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        args = self.wrapper + [self.binary, "serve", "--data-dir", self.data_dir]
        if self.plaintext_listener:
            args += ["--listen", self.bootstrap]
        args += self.args
        for k, v in self.sets.items():
            args += ["--set", "%s=%s" % (k, v)]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        _register_pid(self.proc.pid)
        if not wait_port(self.port, 15.0, self.proc):
            self.stop()
            raise RuntimeError("broker did not start on %s:\n%s" % (self.bootstrap, self.log()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-8000:]
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit code."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
                if rc < 0:
                    self.crashed_on_stop = -rc
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        _unregister_pid(self.proc.pid)
        self.proc = None
        return rc

    def signal(self, sig):
        """Sends a signal (SIGSTOP, SIGCONT, ...) to the running broker. After
        SIGSTOP, waits until every thread of it has stopped: the kernel stops
        a multi-threaded process only once the thread it woke for the signal
        runs, and until then (milliseconds on a busy machine) its other
        threads go on serving."""
        self.proc.send_signal(sig)
        if sig == signal.SIGSTOP:
            deadline = time.time() + 10
            while not self._all_threads_stopped() and time.time() < deadline:
                time.sleep(0.001)

    def _all_threads_stopped(self):
        task_dir = "/proc/%d/task" % self.proc.pid
        try:
            for tid in os.listdir(task_dir):
                with open(os.path.join(task_dir, tid, "stat")) as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                if state not in ("T", "t"):
                    return False
        except OSError:
            return True  # gone
        return True

    def wait_exit(self, timeout=30.0):
        """Waits for the broker to exit on its own; returns its exit code (None if it did not)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        _unregister_pid(self.proc.pid)
        self.proc = None
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.proc is not None:
            _unregister_pid(self.proc.pid)
        self.proc = None

    def restart(self):
        """Start again on the same data dir and port."""
        assert self.proc is None
        return self.start()

    def cleanup_expecting_alive(self):
        """cleanup(), then AssertionError with the log tail if the broker had died
        before it (for a test class's tearDownClass)."""
        alive = self.alive()
        rc = self.proc.poll() if self.proc is not None else None
        log = self.log()
        self.cleanup()
        if not alive:
            how = "killed by signal %d" % -rc if rc is not None and rc < 0 else "exit status %r" % rc
            raise AssertionError("broker died during the tests (%s); log tail:\n%s" % (how, log))

    def cleanup(self):
        """Stops the broker and removes its directory. AssertionError (after the
        removal) if a stop of this broker ended in a crash instead of a clean
        shutdown: a broker must survive its own SIGTERM."""
        self.stop()
        if self in _live:
            _live.remove(self)
        crashed, log = self.crashed_on_stop, self.log() if self.crashed_on_stop else ""
        if os.environ.get("KEEP_BROKER_LOGS"):
            print("kept broker dir", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if crashed:
            self.crashed_on_stop = None
            raise AssertionError("broker crashed in its clean shutdown (signal %d); log tail:\n%s" % (crashed, log))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


@atexit.register
def _stop_all():
    for b in list(_live):
        try:
            b.cleanup()
        except AssertionError as e:  # too late to fail a test: say it, clean up the rest
            print("broker.py at exit: %s" % e, file=sys.stderr)


# SIGTERM (e.g. from `timeout`) becomes SystemExit so that atexit stops the brokers.
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
