"""A consume-transform-produce loop with transactions (confluent-kafka), run as
its own process by test_transactions.py so that it can be killed -9 at any point.

    txn_ctp_app.py BOOTSTRAP INPUT OUTPUT GROUP TRANSACTIONAL_ID EXPECTED

Reads INPUT in group GROUP (read_committed), writes "out-" + value to OUTPUT
and commits the consumed offsets in the same transaction, a few records per
transaction. Exits 0 once the group's committed offsets reach EXPECTED
records in total; on any error it exits non-zero and is started again.
"""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

bootstrap, input_topic, output_topic, group, txn_id, expected = sys.argv[1:7]
expected = int(expected)

producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "transaction.timeout.ms": 10000, "message.timeout.ms": 10000, "linger.ms": 5})
producer.init_transactions(30)
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "isolation.level": "read_committed",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
consumer.subscribe([input_topic])


def committed_total():
    parts = consumer.assignment()
    if not parts:
        return 0
    return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))


idle = 0
while True:
    msgs = consumer.consume(num_messages=5, timeout=0.5)
    msgs = [m for m in msgs if m.error() is None]
    if not msgs:
        idle += 1
        if idle % 4 == 0 and consumer.assignment() and committed_total() >= expected:
            break
        continue
    idle = 0
    producer.begin_transaction()
    for m in msgs:
        producer.produce(output_topic, key=m.key(), value=b"out-" + m.value(), partition=m.partition())
    positions = [tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0]
    producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
    time.sleep(0.05)  # slow enough for the test to kill it mid-way
consumer.close()
sys.exit(0)
