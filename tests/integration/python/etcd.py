"""A real etcd (Debian's etcd-server) for the cluster tests: free loopback
ports, a fresh data directory, stopped at exit like the brokers.

    with Etcd() as e:
        Broker(args=["--node-id", "1", "--etcd", e.url])
"""
import atexit
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from broker import _register_pid, _unregister_pid, free_port

ETCD = "/usr/bin/etcd"
_live = []


def command(name, data_dir, client_url, peer_url, log_file):
    """The command line of a one-member etcd (its client and peer URLs on addresses of our choosing)."""
    return [ETCD, "--name=" + name, "--data-dir=" + data_dir,
            "--listen-client-urls=" + client_url, "--advertise-client-urls=" + client_url,
            "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
            "--initial-cluster=%s=%s" % (name, peer_url), "--log-outputs=" + log_file, "--logger=zap"]


def available():
    return os.access(ETCD, os.X_OK)


class Etcd:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="runnel-etcd-")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc = None
        _live.append(self)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.client_port

    def start(self):
        peer = "http://127.0.0.1:%d" % self.peer_port
        args = command("it", os.path.join(self.tmp, "data"), self.url, peer, os.path.join(self.tmp, "etcd.log"))
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _register_pid(self.proc.pid)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v3/kv/range", data=b'{"key":"AA=="}', timeout=1).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("etcd did not start on " + self.url)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            _unregister_pid(self.proc.pid)
            self.proc = None

    def cleanup(self):
        self.stop()
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


@atexit.register
def _stop_all():
    for e in list(_live):
        e.cleanup()
