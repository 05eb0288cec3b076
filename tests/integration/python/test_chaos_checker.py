"""The chaos checker (tests/chaos/checker.py) on hand-made histories. Its duplicate rule: an
idempotent producer's record twice in the final log is a violation, unless librdkafka bumped
that producer's epoch while the record was unacknowledged (chaos.py's EpochBumpRecorder).
Its committed-offset rule: after an acknowledged commit, the probe never reads a lower
offset, nor none at all."""
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


if __name__ == "__main__":
    unittest.main()
