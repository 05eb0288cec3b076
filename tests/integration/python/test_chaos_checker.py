"""The chaos checker (tests/chaos/checker.py) on hand-made histories. Its duplicate rule: an
idempotent producer's record twice in the final log is a violation, unless librdkafka bumped
that producer's epoch while the record was unacknowledged (chaos.py's EpochBumpRecorder).
Its committed-offset rule: after an acknowledged commit, the probe never reads a lower
offset, nor none at all. Its transaction rules (transactions.py lists them)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "chaos"))
import checker  # noqa: E402


def history(bump_at=None, proc="idem-producer-0"):
    h = [
        {"f": "send", "type": "invoke", "proc": proc, "value": proc + "-7", "key": "k1", "t": 10.0},
        {"f": "send", "type": "ok", "proc": proc, "value": proc + "-7", "p": 0, "o": 5, "t": 14.0},
        {"f": "final", "type": "ok", "p": 0, "o": 3, "value": proc + "-7", "t": 30.0},
        {"f": "final", "type": "ok", "p": 0, "o": 5, "value": proc + "-7", "t": 30.0},
        {"f": "final-end", "p": 0, "end": 6, "t": 30.0},
    ]
    if bump_at is not None:
        h.append({"f": "epoch-bump", "proc": "idem-producer-0", "pid": 0, "epoch": 1, "t": bump_at})
    h.sort(key=lambda e: e["t"])
    return h


class DuplicateRuleTest(unittest.TestCase):
    def kinds(self, h):
        violations, stats = checker.check(h)
        return sorted({x.kind for x in violations}), stats

    def test_duplicate_without_epoch_bump_is_a_violation(self):
        kinds, _ = self.kinds(history())
        self.assertEqual(kinds, ["duplicate"])

    def test_duplicate_across_a_client_epoch_bump_is_counted_not_a_violation(self):
        kinds, stats = self.kinds(history(bump_at=12.0))
        self.assertEqual(kinds, [])
        self.assertEqual(stats["duplicate-after-client-epoch-bump"], 1)

    def test_epoch_bump_outside_the_records_flight_does_not_excuse_it(self):
        for t in (9.0, 15.0):
            kinds, _ = self.kinds(history(bump_at=t))
            self.assertEqual(kinds, ["duplicate"], "bump at %s" % t)

    def test_another_producers_epoch_bump_does_not_excuse_it(self):
        kinds, _ = self.kinds(history(bump_at=12.0, proc="idem-producer-1"))
        self.assertEqual(kinds, ["duplicate"])


def commits(probes):
    """A commit of 10 acknowledged at 1 s on partition 0, then the probe's reads: [(t0, offset)]."""
    h = [{"f": "commit", "type": "ok", "proc": "group-0", "offsets": {"0": 10}, "t": 1.0},
         {"f": "final-end", "p": 0, "end": 20, "t": 30.0}]
    for t0, o in probes:
        h.append({"f": "committed", "type": "ok", "proc": "probe", "t0": t0, "t": t0 + 0.1, "offsets": {"0": o}})
    h.sort(key=lambda e: e["t"])
    return h


class CommittedOffsetRuleTest(unittest.TestCase):
    def kinds(self, h):
        return sorted({x.kind for x in checker.check(h)[0]})

    def test_the_commit_read_back_is_fine(self):
        self.assertEqual(self.kinds(commits([(0.5, -1001), (2.0, 10), (3.0, 10)])), [])

    def test_no_committed_offset_after_the_commit_is_a_violation(self):
        # librdkafka reports "none committed" as -1001 (RD_KAFKA_OFFSET_INVALID).
        self.assertEqual(self.kinds(commits([(2.0, 10), (3.0, -1001)])), ["commit-backwards"])

    def test_a_lower_offset_after_the_commit_is_a_violation(self):
        self.assertEqual(self.kinds(commits([(2.0, 9)])), ["commit-backwards"])


def transaction(outcome, visible, acked_at=None, txn="txn-producer-0.1", hw=4, lso=4):
    """One transaction of two records (outcome: commit, abort, or None for unknown to the
    client), of which `visible` are in the read_committed final read at 0/0, 0/1, ..."""
    values = [txn + ".0", txn + ".1"]
    h = [{"f": "final-end", "p": 0, "end": 0, "t": 30.0},
         {"f": "txn", "type": "invoke", "proc": "txn-producer-0", "txn": txn, "values": values, "t": 1.0},
         {"f": "txn-final-end", "type": "ok", "p": 0, "hw": hw, "lso": lso, "t": 31.0}]
    if outcome is not None:
        h.append({"f": "txn", "type": "ok", "proc": "txn-producer-0", "txn": txn, "outcome": outcome, "t": 2.0})
    for i, o in enumerate(acked_at or []):
        h.append({"f": "txn-send", "type": "ok", "proc": "txn-producer-0", "value": values[i], "p": 0, "o": o,
                  "t": 1.5})
    for o, val in enumerate(values[:visible]):
        h.append({"f": "txn-final", "type": "ok", "p": 0, "o": o, "value": val, "t": 32.0})
    h.sort(key=lambda e: e["t"])
    return h


class TransactionRulesTest(unittest.TestCase):
    def kinds(self, h):
        return sorted({x.kind for x in checker.check(h)[0]})

    def test_a_committed_transaction_visible_whole_is_fine(self):
        self.assertEqual(self.kinds(transaction("commit", 2, acked_at=[0, 1])), [])

    def test_a_committed_record_missing_is_lost(self):
        self.assertEqual(self.kinds(transaction("commit", 1)), ["txn-lost"])

    def test_a_committed_record_away_from_its_acknowledged_offset_is_lost(self):
        self.assertEqual(self.kinds(transaction("commit", 2, acked_at=[0, 3])), ["txn-lost"])

    def test_an_aborted_transaction_must_not_be_visible(self):
        self.assertEqual(self.kinds(transaction("abort", 0)), [])
        self.assertEqual(self.kinds(transaction("abort", 1)), ["txn-aborted-visible"])

    def test_an_unknown_outcome_is_all_or_nothing(self):
        self.assertEqual(self.kinds(transaction(None, 0)), [])
        self.assertEqual(self.kinds(transaction(None, 2)), [])
        self.assertEqual(self.kinds(transaction(None, 1)), ["txn-partial"])

    def test_a_last_stable_offset_below_the_high_watermark_is_stuck(self):
        self.assertEqual(self.kinds(transaction("commit", 2, lso=3)), ["lso-stuck"])

    def test_a_read_committed_reader_seeing_what_the_final_read_does_not_hold(self):
        h = transaction(None, 0)
        h.append({"f": "txn-read", "type": "ok", "proc": "txn-reader-0", "epoch": 1, "p": 0, "o": 0,
                  "value": "txn-producer-0.1.0", "t": 1.8})
        self.assertEqual(self.kinds(h), ["txn-read-vanished"])

    def test_a_live_read_of_an_aborted_record_is_a_violation_too(self):
        # As in chaos seed 2213618524: a broker that lost an index entry served the
        # aborted records; the final read, from another broker, did not hold them.
        h = transaction("abort", 0)
        h.append({"f": "txn-read", "type": "ok", "proc": "txn-reader-0", "epoch": 1, "p": 0, "o": 0,
                  "value": "txn-producer-0.1.0", "t": 2.5})
        self.assertEqual(self.kinds(h), ["txn-aborted-visible", "txn-read-vanished"])

    def test_a_record_visible_twice_is_a_duplicate(self):
        h = transaction("commit", 2)
        h.append({"f": "txn-final", "type": "ok", "p": 0, "o": 2, "value": "txn-producer-0.1.1", "t": 32.0})
        self.assertEqual(self.kinds(h), ["txn-duplicate"])


def copy(copied, committed=3):
    """A source partition 0 of four records (0/0..0/3) and the copier's read_committed
    copy of `copied` (source offsets), with the group's committed offset."""
    h = [{"f": "final", "type": "ok", "p": 0, "o": o, "value": "v%d" % o, "t": 30.0} for o in range(4)]
    h.append({"f": "final-end", "p": 0, "end": 4, "t": 30.0})
    for i, so in enumerate(copied):
        h.append({"f": "copy-final", "type": "ok", "p": 1, "o": i, "value": "0/%d:v%d" % (so, so), "t": 31.0})
    h.append({"f": "copy-final-end", "type": "ok", "p": 1, "hw": len(copied) + 1, "lso": len(copied) + 1,
              "t": 31.0})
    h.append({"f": "copy-committed", "type": "ok", "offsets": {"0": committed}, "t": 32.0})
    return h


class CopyRulesTest(unittest.TestCase):
    def kinds(self, h):
        return sorted({x.kind for x in checker.check(h)[0]})

    def test_every_record_below_the_commit_once_is_fine(self):
        self.assertEqual(self.kinds(copy([0, 1, 2])), [])

    def test_a_record_below_the_commit_missing_is_lost(self):
        self.assertEqual(self.kinds(copy([0, 2])), ["copy-lost"])

    def test_a_record_copied_twice_is_a_duplicate(self):
        self.assertEqual(self.kinds(copy([0, 1, 1, 2])), ["copy-duplicate"])

    def test_a_copy_at_or_above_the_commit_broke_atomicity(self):
        self.assertEqual(self.kinds(copy([0, 1, 2, 3])), ["copy-beyond-commit"])

    def test_a_copy_with_another_value_is_inconsistent(self):
        h = copy([0, 1, 2])
        h[6]["value"] = "0/1:other"  # the copy of 0/1
        self.assertEqual(self.kinds(h), ["copy-inconsistent"])


if __name__ == "__main__":
    unittest.main()
