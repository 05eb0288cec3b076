"""flush.messages / flush.ms (issue 13): acks=1 data of a topic with a flush
policy survives a power cut; that of a topic without one (runnel.idle.flush.ms
set long) does not. The broker runs with --fault-injection, so SIGUSR2 drops
every write not fdatasync'd and ends the process, as a power cut would
(test_power_loss.py). A policy set by AlterConfigs applies at once."""
import signal
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from broker import Broker
from helpers import create_topic, read_partition

POWER_CUT_EXIT_CODE = 99
RECORDS = 40


class TopicFlushTest(unittest.TestCase):
    def setUp(self):
        # No idle flush during the test: only a flush policy syncs acks=1 data.
        self.broker = Broker(sets={"runnel.idle.flush.ms": 600000}, args=["--fault-injection"]).start()

    def tearDown(self):
        self.broker.cleanup()

    def produce_acks1(self, topic, tag):
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": 1, "linger.ms": 0,
                             "message.timeout.ms": 5000})
        acked = []
        for i in range(RECORDS):
            producer.produce(topic, value=b"%s-%d" % (tag, i),
                             on_delivery=lambda err, msg: acked.append(msg.offset()) if err is None else None)
            producer.flush(5)  # one batch per record
        self.assertEqual(len(acked), RECORDS)
        return acked

    def power_cut(self):
        self.broker.signal(signal.SIGUSR2)
        rc = self.broker.wait_exit(30)
        self.assertEqual(rc, POWER_CUT_EXIT_CODE, "the broker did not cut its power:\n" + self.broker.log())
        self.broker.restart()

    def kept(self, topic):
        return len(read_partition(self.broker.bootstrap, topic, 0, timeout=5.0))

    def test_flush_policies_make_acks1_data_durable(self):
        create_topic(self.broker.bootstrap, "fl-none")
        create_topic(self.broker.bootstrap, "fl-messages", configs={"flush.messages": "1"})
        create_topic(self.broker.bootstrap, "fl-ms", configs={"flush.ms": "100"})
        self.produce_acks1("fl-none", b"n")
        self.produce_acks1("fl-messages", b"m")  # each acknowledged once synced, as in Kafka
        self.produce_acks1("fl-ms", b"t")
        time.sleep(2.0)  # flush.ms passes (the flush timer finds the topic within 1 s, then checks every 100 ms)
        self.power_cut()
        self.assertEqual(self.kept("fl-messages"), RECORDS)
        self.assertEqual(self.kept("fl-ms"), RECORDS)
        lost = RECORDS - self.kept("fl-none")
        self.assertGreater(lost, 0, "acks=1 data was synced without a flush policy: the test proves nothing")

        # Set at run time, the policy applies to the next appends.
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        resource = ConfigResource("topic", "fl-none", set_config={"flush.messages": "1"})
        for f in admin.alter_configs([resource]).values():
            f.result(10)
        before = self.kept("fl-none")
        self.produce_acks1("fl-none", b"a")
        self.power_cut()
        self.assertEqual(self.kept("fl-none"), before + RECORDS)


if __name__ == "__main__":
    unittest.main()
