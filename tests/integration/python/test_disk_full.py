"""A full disk (issue 11): the data dir is a small tmpfs. Produce gets
KAFKA_STORAGE_ERROR once it is full, reads keep working, nothing acknowledged
is damaged, a group commit is refused with a retriable error while the last
committed offset stays readable, a DeleteRecords is refused and deletes nothing, a topic change that cannot be written is refused without harm
(a cut-short topics.json once kept the broker from ever starting again), and
produce works again once space is freed, with no restart; after a restart
every acknowledged record is still there."""
import os
import subprocess
import time
import unittest

import kproto
from broker import Broker
from helpers import admin, read_partition

KAFKA_STORAGE_ERROR = 56
COORDINATOR_NOT_AVAILABLE = 15
GROUP = "full-group"
RECORD = 16000


def value(i):
    return b"%06d" % i + b"x" * (RECORD - 6)


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.broker = Broker(sets={"num.partitions": 1, "log.segment.bytes": 262144})
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.broker.data_dir],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            self.broker.cleanup()
            self.skipTest("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
        self.broker.start()

    def tearDown(self):
        self.broker.stop()
        subprocess.run(["umount", self.broker.data_dir], check=False)
        self.broker.cleanup()

    def produce(self, conn, topic, i):
        """One single-record batch; the partition's (error, base offset)."""
        conn.send(kproto.produce(i, topic, 0, kproto.record_batch([(None, value(i))])))
        r = kproto.parse_produce_v8(conn.recv_frame())[1][0]
        return r["error"], r["base_offset"]

    def commit(self, conn, offset):
        conn.send(kproto.offset_commit_v2(7, GROUP, "full", 0, offset))
        return kproto.parse_offset_commit_v2(conn.recv_frame())

    def committed(self, conn):
        conn.send(kproto.offset_fetch_v1(8, GROUP, "full", 0))
        return kproto.parse_offset_fetch_v1(conn.recv_frame())

    def test_storage_error_when_full_and_recovery_when_space_is_freed(self):
        port = self.broker.port
        ballast = os.path.join(self.broker.data_dir, "ballast")  # space an operator can give back
        with open(ballast, "wb") as f:
            f.write(b"\0" * (1536 * 1024))
        kproto.metadata(port, ["other", "full"])  # auto-creates both
        time.sleep(0.5)
        conn = kproto.Conn(port, 10)
        self.assertEqual(self.produce(conn, "other", 0)[0], 0)
        self.assertEqual(self.commit(conn, 3), 0)  # the offsets topic exists before the disk fills
        acked = {}
        errors = 0
        for i in range(400):
            error, offset = self.produce(conn, "full", i)
            if error == 0:
                acked[offset] = value(i)
            else:
                self.assertEqual(error, KAFKA_STORAGE_ERROR)
                errors += 1
                if errors >= 5:
                    break
        self.assertGreater(len(acked), 20)
        self.assertEqual(errors, 5, "the disk never filled up")

        def check_full():
            got = read_partition(self.broker.bootstrap, "full", 0)
            self.assertEqual({r.offset: r.value for r in got}, acked)
        check_full()  # reads work on a full disk, and nothing acknowledged is damaged

        # The last few KiB too, so that even a small file cannot be written.
        topup = os.path.join(self.broker.data_dir, "topup")
        with open(topup, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 512)
            except OSError:
                pass
        # A topic change on a full disk: refused or done, never a broken catalogue.
        a = admin(self.broker.bootstrap)
        try:
            a.delete_topics(["other"])
        except Exception:  # noqa: BLE001 (KAFKA_STORAGE_ERROR is an acceptable answer)
            pass
        finally:
            a.close()
        self.assertTrue(self.broker.alive())
        # Group commits: one that still fits in the offsets log's last page is taken; once
        # none fits, a commit is refused (retriable) and the last one taken stays readable.
        last, refused = 3, False
        for k in range(400):
            error = self.commit(conn, 10 + k)
            if error == 0:
                last = 10 + k
                continue
            self.assertEqual(error, COORDINATOR_NOT_AVAILABLE)
            refused = True
            break
        self.assertTrue(refused, "400 commits fitted on a full disk")
        self.assertEqual(self.committed(conn), (last, 0))
        # A DeleteRecords whose new log start cannot be written is refused and deletes
        # nothing (a success would be undone by the next start).
        self.assertEqual(kproto.delete_records(port, "full", 0, 5), (KAFKA_STORAGE_ERROR, -1))
        check_full()

        os.unlink(ballast)
        os.unlink(topup)
        deadline = time.time() + 20
        while True:
            error, offset = self.produce(conn, "full", 1000)
            if error == 0:
                acked[offset] = value(1000)
                break
            self.assertEqual(error, KAFKA_STORAGE_ERROR)
            self.assertLess(time.time(), deadline, "produce did not recover after space was freed")
            time.sleep(0.2)
        deadline = time.time() + 20
        while self.commit(conn, 9000) != 0:
            self.assertLess(time.time(), deadline, "group commits did not recover after space was freed")
            time.sleep(0.2)
        self.assertEqual(self.committed(conn), (9000, 0))
        for i in range(1001, 1011):
            error, offset = self.produce(conn, "full", i)
            self.assertEqual(error, 0)
            acked[offset] = value(i)
        conn.close()
        check_full()
        self.broker.stop()
        self.broker.restart()
        check_full()
        conn = kproto.Conn(port, 10)
        self.assertEqual(self.committed(conn), (9000, 0))
        conn.close()

if __name__ == "__main__":
    unittest.main()
