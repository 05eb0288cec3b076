"""Every thread of the broker carries a name that says what it does
(base/thread_name.h): top -H, ps -L, perf --sort comm and gdb show them, so
a busy thread can be told apart (a shard from a flusher, say). Read here
from /proc/PID/task/*/comm of a running broker.
"""
import collections
import os
import unittest

from broker import Broker, free_port
from helpers import create_topic

SHARDS = 2
FLUSH_THREADS = 3


def thread_names(pid):
    names = collections.Counter()
    task_dir = "/proc/%d/task" % pid
    for tid in os.listdir(task_dir):
        try:
            with open(os.path.join(task_dir, tid, "comm")) as f:
                names[f.read().strip()] += 1
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return names


class ThreadNamesTest(unittest.TestCase):
    def test_broker_threads_are_named(self):
        admin_port = free_port()
        broker = Broker(sets={"runnel.shards": SHARDS,
                              "runnel.flush.threads": FLUSH_THREADS,
                              "runnel.admin.listen": "127.0.0.1:%d" % admin_port}).start()
        try:
            # A topic, so that every shard has served and the cleaner has started.
            create_topic(broker.bootstrap, "names-t", partitions=4)
            names = thread_names(broker.proc.pid)
            for i in range(SHARDS):
                self.assertEqual(names["shard-%d" % i], 1, names)
            for i in range(FLUSH_THREADS):
                self.assertEqual(names["flusher-%d" % i], 1, names)
            self.assertEqual(names["flusher-%d" % FLUSH_THREADS], 0, names)
            for name in ("memory-trimmer", "broker-control", "log-cleaner-0", "log-dir-copy"):
                self.assertEqual(names[name], 1, (name, names))
            # The admin server's listening thread and the HTTP workers it made.
            self.assertGreaterEqual(names["admin-http"], 2, names)
            # Only the main thread (waiting for signals) keeps the binary's name.
            self.assertEqual(names["runnel"], 1, names)
        finally:
            broker.cleanup_expecting_alive()


if __name__ == "__main__":
    unittest.main()
