"""One kafka-python consumer-group member as a process, for tests/integration/python/test_groups.py.

    group_member.py BOOTSTRAP GROUP TOPIC [--session-ms N] [--reset earliest|latest] [--client-id ID]
                    [--assignor range|roundrobin]

Subscribes GROUP to TOPIC and prints one JSON object a line (flushed):
  {"assigned": [partitions]}      whenever the assignment changes
  {"rec": [partition, offset, value]} for every record
Commits synchronously after every non-empty poll. Exits cleanly (leaving the
group) on SIGTERM or when stdin closes; a test kills it with SIGKILL to crash it.
"""
import argparse
import json
import signal
import sys
import threading

from kafka import KafkaConsumer
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

ASSIGNORS = {a.name: a for a in (RangePartitionAssignor, RoundRobinPartitionAssignor, StickyPartitionAssignor)}

ap = argparse.ArgumentParser()
ap.add_argument("bootstrap")
ap.add_argument("group")
ap.add_argument("topic")
ap.add_argument("--session-ms", type=int, default=3000)
ap.add_argument("--reset", default="earliest")
ap.add_argument("--client-id", default="py-member")
ap.add_argument("--assignor", default=None, help="the only partition.assignment.strategy (default: kafka-python's)")
args = ap.parse_args()

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


def watch_stdin():
    sys.stdin.read()
    stop.set()


threading.Thread(target=watch_stdin, daemon=True).start()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


c = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group, client_id=args.client_id,
                  enable_auto_commit=False, auto_offset_reset=args.reset, session_timeout_ms=args.session_ms,
                  heartbeat_interval_ms=max(100, args.session_ms // 10), max_poll_interval_ms=30000,
                  fetch_max_wait_ms=100, request_timeout_ms=max(10000, args.session_ms + 5000),
                  reconnect_backoff_ms=50, reconnect_backoff_max_ms=500, api_version_auto_timeout_ms=5000,
                  **({"partition_assignment_strategy": [ASSIGNORS[args.assignor]]} if args.assignor else {}))
last = None
while not stop.is_set():
    batch = c.poll(timeout_ms=100)
    now = sorted(tp.partition for tp in c.assignment())
    if now != last:
        last = now
        emit({"assigned": now})
    n = 0
    for tp, recs in batch.items():
        for r in recs:
            emit({"rec": [tp.partition, r.offset, r.value.decode()]})
            n += 1
    if n:
        c.commit()
        emit({"committed": n})
c.close()
emit({"closed": True})
