"""One consumer of a KIP-848 group (group.protocol=consumer), run by
test_consumer_group_protocol.py in its own process: the process must start
with LD_LIBRARY_PATH pointing at a current librdkafka, which Debian's
python3-confluent-kafka then loads instead of Debian's 2.0.2.

    kip848_member.py BOOTSTRAP GROUP TOPIC NAME

Prints one JSON object per line: {"event": "lib", "version": ...} first, then
"assigned"/"revoked" (partitions), "record" (partition, offset, value),
"commit_error", "error", and "closed" at the end. Each record is committed
(synchronously) before the next poll, so a partition is only ever revoked with
everything processed committed. Closing stdin makes it close the consumer
(leaving the group) and exit."""
import json
import sys
import threading
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaException

lock = threading.Lock()


def emit(event, **kw):
    with lock:
        print(json.dumps(dict(event=event, **kw)), flush=True)


def main():
    bootstrap, group, topic, name = sys.argv[1:5]
    emit("lib", version=confluent_kafka.libversion()[0])
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "client.id": name,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "topic.metadata.refresh.interval.ms": 2000,
    })

    def on_assign(consumer, partitions):
        emit("assigned", partitions=sorted(p.partition for p in partitions))

    def on_revoke(consumer, partitions):
        emit("revoked", partitions=sorted(p.partition for p in partitions))

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop.is_set():
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            emit("error", error=str(m.error()))
            continue
        emit("record", partition=m.partition(), offset=m.offset(), value=m.value().decode())
        for attempt in range(20):
            try:
                c.commit(message=m, asynchronous=False)
                break
            except KafkaException as e:
                # STALE_MEMBER_EPOCH while a heartbeat answer with a new epoch
                # is on its way: the next try carries the new one.
                emit("commit_error", error=str(e), attempt=attempt)
                time.sleep(0.2)
    c.close()
    emit("closed")


if __name__ == "__main__":
    main()
