"""The chaos checker: reads a history (a list of dicts, or history.jsonl written by
chaos.py) and proves, per partition:

  acked-lost        every acknowledged record is in the final log, at its acknowledged offset
  inconsistent      every offset holds one value for every reader (and the final read)
  read-vanished     no reader saw a record (partition, offset, value) that is not in the final log
  nonmonotonic      a consumer's offsets only increase within one assignment
  skipped           a consumer never jumps over records that the final log holds
  commit-backwards  committed group offsets never go backwards (in the observations, and
                    below an acknowledged commit)
  commit-beyond-end no committed offset lies beyond the final log's end

and, for the transactional workload's topics, what transactions.py lists (txn-lost,
txn-aborted-visible, txn-partial, txn-duplicate, txn-read-vanished, lso-stuck; the
copier's copy-lost, copy-duplicate, copy-beyond-commit, copy-inconsistent).

    python3 checker.py RUN_DIR/history.jsonl     re-checks a saved history
Exits 1 on a violation.
"""
import collections
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Violation:
    def __init__(self, kind, msg, t=None, part=None, offset=None, value=None, events=()):
        self.kind, self.msg, self.t, self.part, self.offset, self.value = kind, msg, t, part, offset, value
        self.events = list(events)  # events the excerpt must show (e.g. the read before)


def check(history):
    final = collections.defaultdict(dict)
    final_end = {}
    skipped = set()
    for e in history:
        if e["f"] == "final-end" and e["end"] is None:
            skipped.add(e["p"])  # no final read of it (an anomaly of its own): not checked
        elif e["f"] == "final-end":
            final_end[e["p"]] = e["end"]
        elif e["f"] == "final":
            final[e["p"]][e["o"]] = e["value"]
    if not final_end:
        return [Violation("no-final-read", "the history has no final read")], {}
    v = []
    stats = collections.Counter()
    stats["unchecked-partitions"] = len(skipped)
    for e in history:
        if e["f"] == "send":
            stats["send:%s" % e["type"]] += 1
    history = [e for e in history if e.get("p") not in skipped]

    # 1. acknowledged writes
    final_values = {p: set(recs.values()) for p, recs in final.items()}
    sends_by_value = {}
    for e in history:
        if e["f"] != "send":
            continue
        if e["type"] == "invoke":
            continue
        sends_by_value[e["value"]] = e
        if e["type"] == "ok" and e["o"] is None:
            # Delivered without an offset: librdkafka's idempotent producer
            # reports a "possibly persisted" batch as delivered once a later
            # one to the partition succeeds, without knowing where it went.
            # It must be in the partition, somewhere.
            stats["send:ok-without-offset"] += 1
            if e["value"] not in final_values.get(e["p"], ()):
                v.append(Violation("acked-lost", "acknowledged %r (no offset) is not in the final log of %d"
                                   % (e["value"], e["p"]), e["t"], e["p"], None, e["value"]))
        elif e["type"] == "ok":
            p, o = e["p"], e["o"]
            got = final[p].get(o)
            if got is None:
                v.append(Violation("acked-lost", "acknowledged %r at %d/%d is not in the final log (end %d)"
                                   % (e["value"], p, o, final_end.get(p, -1)), e["t"], p, o, e["value"]))
            elif got != e["value"]:
                v.append(Violation("acked-lost", "acknowledged %r at %d/%d, but the final log holds %r there"
                                   % (e["value"], p, o, got), e["t"], p, o, e["value"]))
    present = collections.Counter(val for p in final for val in final[p].values())
    stats["final-records"] = sum(len(x) for x in final.values())
    stats["final-duplicates"] = sum(c - 1 for c in present.values() if c > 1)
    for e in sends_by_value.values():
        if e["type"] in ("fail", "info") and e["value"] in present:
            stats["send:%s-but-present" % e["type"]] += 1
    # With idempotence, no record twice (a retry must not write it again), unless the
    # producer bumped its epoch while the record was unacknowledged: librdkafka then sends
    # it again under the new epoch, as a new record, whether or not it was written
    # (chaos.py's EpochBumpRecorder says why). Those are counted, not violations.
    invoked = {e["value"]: e["t"] for e in history if e["f"] == "send" and e["type"] == "invoke"}
    bumps = collections.defaultdict(list)  # proc -> [t]
    for e in history:
        if e["f"] == "epoch-bump":
            bumps[e["proc"]].append(e["t"])
    for val, count in present.items():
        if count > 1 and val.startswith("idem-"):
            where = [(p, o) for p in final for o, x in final[p].items() if x == val]
            p, o = where[-1]
            done = sends_by_value.get(val)
            proc = val.rsplit("-", 1)[0]
            start, end = invoked.get(val), done["t"] if done else float("inf")
            if start is not None and any(start < t < end for t in bumps[proc]):
                stats["duplicate-after-client-epoch-bump"] += count - 1
                continue
            v.append(Violation("duplicate", "idempotent producer's %r is in the final log %d times: %s"
                               % (val, count, ", ".join("%d/%d" % w for w in where)),
                               sends_by_value.get(val, {}).get("t", 0), p, o, val))

    # 2. reads against the final log, and against each other
    seen = collections.defaultdict(dict)  # (p, o) -> value -> first read event
    for e in history:
        if e["f"] != "read":
            continue
        stats["read:%s" % e["proc"].split("-")[0]] += 1
        p, o, val = e["p"], e["o"], e["value"]
        seen[(p, o)].setdefault(val, e)
        if o >= final_end.get(p, 0) or o not in final[p]:
            v.append(Violation("read-vanished", "%s read %r at %d/%d, which is not in the final log (end %d)"
                               % (e["proc"], val, p, o, final_end.get(p, -1)), e["t"], p, o, val))
        elif final[p][o] != val:
            v.append(Violation("inconsistent", "%s read %r at %d/%d, the final log holds %r there"
                               % (e["proc"], val, p, o, final[p][o]), e["t"], p, o, val))
    for (p, o), vals in seen.items():
        if len(vals) > 1:
            first = sorted(vals.values(), key=lambda x: x["t"])
            v.append(Violation("inconsistent", "readers saw %d values at %d/%d: %s" % (
                len(vals), p, o, ", ".join("%r by %s" % (x["value"], x["proc"]) for x in first)),
                first[-1]["t"], p, o))

    # 3. per consumer and assignment: offsets increase, no skips
    last = {}
    for e in history:
        if e["f"] != "read":
            continue
        k = (e["proc"], e["epoch"], e["p"])
        prev = last.get(k)
        last[k] = e
        if prev is None:
            continue
        if e["o"] <= prev["o"]:
            v.append(Violation("nonmonotonic", "%s (assignment %d) read %d/%d after %d/%d" % (
                e["proc"], e["epoch"], e["p"], e["o"], e["p"], prev["o"]), e["t"], e["p"], e["o"], e["value"],
                events=[prev, e]))
        elif e["o"] > prev["o"] + 1:
            missing = [o for o in range(prev["o"] + 1, e["o"]) if o in final[e["p"]]]
            if missing:
                v.append(Violation("skipped", "%s (assignment %d) jumped from %d/%d to %d/%d over %d records "
                                   "of the final log" % (e["proc"], e["epoch"], e["p"], prev["o"], e["p"], e["o"],
                                                         len(missing)), e["t"], e["p"], e["o"], e["value"],
                                   events=[prev, e]))

    # 4. committed offsets
    acked_commits = collections.defaultdict(list)  # p -> [(t completed, offset)]
    observed = collections.defaultdict(list)  # p -> [(t invoked, t completed, offset)]
    for e in history:
        if e["f"] == "commit":
            stats["commit:%s" % e["type"]] += 1
            if e["type"] == "ok":
                for p, o in e["offsets"].items():
                    acked_commits[int(p)].append((e["t"], o))
        elif e["f"] == "committed" and e["type"] == "ok":
            stats["committed-probe"] += 1
            # "No committed offset" (librdkafka's -1001) counts as -1: once a
            # commit is acknowledged, a probe that finds none has lost it (a
            # consumer starting then would go to auto.offset.reset).
            for p, o in e["offsets"].items():
                observed[int(p)].append((e["t0"], e["t"], max(o, -1)))
    for p, obs in observed.items():
        if p in skipped:
            continue
        obs.sort()
        hi = None
        for t0, t, o in obs:
            if hi is not None and o < hi[2]:
                v.append(Violation("commit-backwards", "partition %d: committed offset read as %s at %.1f s, "
                                   "after %d at %.1f s" % (p, o if o >= 0 else "none", t, hi[2], hi[1]), t, p, o))
            if hi is None or o > hi[2]:
                hi = (t0, t, o)
        for tc, c in acked_commits.get(p, []):
            for t0, t, o in obs:
                if t0 > tc and o < c:
                    v.append(Violation("commit-backwards", "partition %d: commit of %d acknowledged at %.1f s, "
                                       "read back as %s at %.1f s" % (p, c, tc, o if o >= 0 else "none", t),
                                       t, p, o))
                    break
        for t0, t, o in obs:
            if p in final_end and o > final_end[p]:
                v.append(Violation("commit-beyond-end", "partition %d: committed offset %d (read at %.1f s) "
                                   "is beyond the final log's end %d" % (p, o, t, final_end.get(p, 0)), t, p, o))
                break
    tv, tstats = check_transactions(history)
    stats.update(tstats)
    cv, cstats = check_copy(history, final, skipped)
    stats.update(cstats)
    return v + tv + cv, stats


def check_transactions(history):
    """The transactional workload's invariants (transactions.py lists them). Nothing to
    check in a history without transactions."""
    v, stats = [], collections.Counter()
    ends = {e["p"]: e for e in history if e["f"] == "txn-final-end"}
    if not ends:
        return v, stats
    v += lso_stuck(history, "txn-final-end", "the transactions' topic")
    final = collections.defaultdict(dict)  # p -> o -> value
    where = collections.defaultdict(list)  # value -> [(p, o)]
    for e in history:
        if e["f"] == "txn-final":
            final[e["p"]][e["o"]] = e["value"]
            where[e["value"]].append((e["p"], e["o"]))
    unchecked = {p for p, e in ends.items() if e["hw"] is None}
    stats["txn-final-records"] = sum(len(x) for x in final.values())
    acked = {e["value"]: e for e in history if e["f"] == "txn-send" and e["type"] == "ok"}
    txns = {}
    for e in history:
        if e["f"] == "txn" and e["type"] == "invoke":
            txns[e["txn"]] = {"invoke": e, "end": None}
        elif e["f"] == "txn" and e["txn"] in txns:
            txns[e["txn"]]["end"] = e
    for txn, x in txns.items():
        values, end = x["invoke"]["values"], x["end"]
        outcome = end["outcome"] if end is not None else "unknown"
        stats["txn:%s" % outcome] += 1
        if any(acked.get(val, {}).get("p") in unchecked for val in values):
            continue
        visible = [val for val in values if where.get(val)]
        t = (end or x["invoke"])["t"]
        if outcome == "commit":
            for val in values:
                a = acked.get(val)
                if not where.get(val):
                    v.append(Violation("txn-lost", "%r of committed transaction %s is not visible to "
                                       "read_committed%s" % (val, txn, " (acknowledged at %d/%d)" % (a["p"], a["o"])
                                                             if a else ""), t, a and a["p"], a and a["o"], val))
                elif a is not None and (a["p"], a["o"]) not in where[val]:
                    v.append(Violation("txn-lost", "%r of committed transaction %s acknowledged at %d/%d, visible "
                                       "at %s" % (val, txn, a["p"], a["o"], where[val]), t, a["p"], a["o"], val))
        elif outcome == "abort":
            if visible:
                v.append(Violation("txn-aborted-visible", "aborted transaction %s: %d of its %d records visible to "
                                   "read_committed: %s" % (txn, len(visible), len(values), visible[:3]),
                                   t, None, None, visible[0]))
        elif visible and len(visible) != len(values):
            v.append(Violation("txn-partial", "transaction %s (outcome unknown to the client): %d of its %d records "
                               "visible to read_committed" % (txn, len(visible), len(values)), t, None, None,
                               visible[0]))
        if visible and len(visible) == len(values) and outcome != "commit":
            stats["txn:%s-but-visible" % outcome] += 1
    known = {val for x in txns.values() for val in x["invoke"]["values"]}
    aborted = {val: txn for txn, x in txns.items() if x["end"] is not None and x["end"]["outcome"] == "abort"
               for val in x["invoke"]["values"]}
    for val, at in where.items():
        if len(at) > 1:
            v.append(Violation("txn-duplicate", "%r is visible to read_committed %d times: %s"
                               % (val, len(at), at), None, at[-1][0], at[-1][1], val))
        if val not in known:
            v.append(Violation("txn-unknown", "%r is visible to read_committed but no transaction wrote it"
                               % val, None, at[0][0], at[0][1], val))
    last = {}
    for e in history:
        if e["f"] != "txn-read" or e["p"] in unchecked:
            continue
        stats["txn-read"] += 1
        p, o, val = e["p"], e["o"], e["value"]
        if val in aborted:
            # The final read may be from a broker that lost nothing: a live read is checked too.
            v.append(Violation("txn-aborted-visible", "%s read %r of aborted transaction %s at %d/%d "
                               "read_committed" % (e["proc"], val, aborted[val], p, o), e["t"], p, o, val))
        if final[p].get(o) != val:
            v.append(Violation("txn-read-vanished", "%s read %r at %d/%d read_committed; the final read holds %r "
                               "there" % (e["proc"], val, p, o, final[p].get(o)), e["t"], p, o, val))
        k = (e["proc"], e["epoch"], p)
        if k in last and o <= last[k]["o"]:
            v.append(Violation("nonmonotonic", "%s (assignment %d) read %d/%d after %d/%d read_committed" % (
                e["proc"], e["epoch"], p, o, p, last[k]["o"]), e["t"], p, o, val, events=[last[k], e]))
        last[k] = e
    return v, stats


def lso_stuck(history, kind, what):
    v = []
    for e in history:
        if e["f"] == kind and e["hw"] is not None and (e["lso"] is None or e["lso"] < e["hw"]):
            v.append(Violation("lso-stuck", "partition %d of %s: last stable offset %s below the high watermark %d "
                               "after every producer stopped" % (e["p"], what, e["lso"], e["hw"]), e["t"], e["p"],
                               e["lso"]))
    return v


def check_copy(history, source, skipped=()):
    """The copier's exactly-once rule (transactions.CopierWorker): the read_committed
    copy holds every record of the source below the group's committed offset exactly
    once, with its value, and nothing at or above it. A source partition without a final
    read (`skipped`) is not checked."""
    v, stats = [], collections.Counter()
    committed = next((e["offsets"] for e in history if e["f"] == "copy-committed"), None)
    if committed is None:
        return v, stats
    v += lso_stuck(history, "copy-final-end", "the copier's topic")
    copied = collections.defaultdict(list)  # (source p, source o) -> [(p, o) in the copy]
    for e in history:
        if e["f"] == "copy-final":
            at, _, val = e["value"].partition(":")
            sp, so = (int(x) for x in at.split("/"))
            copied[(sp, so)].append((e["p"], e["o"], val))
    for e in history:
        if e["f"] == "copy-txn" and e["type"] != "invoke":
            stats["copy-txn:%s" % e["outcome"]] += 1
    stats["copy-records"] = sum(len(x) for x in copied.values())
    for (sp, so), where in sorted(copied.items()):
        if sp in skipped:
            continue
        end = committed.get(str(sp), -1)
        if len(where) > 1:
            v.append(Violation("copy-duplicate", "source record %d/%d is in the copy %d times: %s" % (
                sp, so, len(where), ", ".join("%d/%d" % w[:2] for w in where)), None, where[-1][0], where[-1][1]))
        if so >= end:
            v.append(Violation("copy-beyond-commit", "source record %d/%d is in the copy, but the group's committed "
                               "offset is %d" % (sp, so, end), None, where[0][0], where[0][1]))
        if source.get(sp, {}).get(so) != where[0][2]:
            v.append(Violation("copy-inconsistent", "the copy of %d/%d holds %r, the source's final log %r" % (
                sp, so, where[0][2], source.get(sp, {}).get(so)), None, where[0][0], where[0][1]))
    for sp_text, end in committed.items():
        sp = int(sp_text)
        if sp in skipped:
            continue
        missing = [so for so in range(end) if so in source.get(sp, {}) and (sp, so) not in copied]
        if missing:
            v.append(Violation("copy-lost", "%d records of source partition %d below the committed offset %d are "
                               "not in the copy (first: %d)" % (len(missing), sp, end, missing[0]), None, sp,
                               missing[0]))
    return v, stats


def excerpt(history, viol, window=8.0, limit=40):
    """The events of the history that show one violation: those on the same
    partition and offset (or value), the nemesis around it."""
    out = []
    for e in history:
        if any(e is x for x in viol.events):
            out.append(e)
            continue
        if viol.events and e["f"] != "nemesis":
            continue
        if e["f"] in ("final", "final-end"):
            if viol.part is not None and e.get("p") == viol.part and e.get("o", -1) == viol.offset:
                out.append(e)
            continue
        if e["f"] == "nemesis":
            if viol.t is not None and viol.t - 30 <= e["t"] <= viol.t + window:
                out.append(e)
            continue
        if viol.kind.startswith("commit"):
            if e["f"] in ("commit", "committed") and viol.t is not None and \
                    viol.t - window <= e["t"] <= viol.t + 1 and str(viol.part) in e.get("offsets", {}):
                out.append(dict(e, offsets={str(viol.part): e["offsets"][str(viol.part)]}))
            continue
        if viol.value is not None and e.get("value") == viol.value:
            out.append(e)
        elif viol.part is not None and viol.offset is not None and e.get("p") == viol.part and \
                e.get("o") == viol.offset:
            out.append(e)
    return out[:limit]


def fmt(e):
    rest = {k: x for k, x in e.items() if k not in ("t", "f", "type", "proc")}
    return "%8.2f %-10s %-9s %-6s %s" % (e.get("t", 0), e.get("proc", ""), e["f"], e.get("type", ""),
                                        json.dumps(rest, sort_keys=True))


def report(history, out=print, max_shown=5):
    viol, stats = check(history)
    out("ops:")
    for k in sorted(stats):
        out("  %-28s %d" % (k, stats[k]))
    faults = collections.Counter(e["kind"] for e in history if e["f"] == "nemesis" and e["type"] == "start")
    out("faults:")
    for k in sorted(faults):
        out("  %-28s %d" % (k, faults[k]))
    for e in history:
        if e["f"] == "anomaly":
            out("anomaly: %s" % e["msg"])
    by_kind = collections.Counter(x.kind for x in viol)
    if not viol:
        out("checker: OK, no violation")
        return 0
    out("checker: %d VIOLATIONS: %s" % (len(viol), ", ".join("%s=%d" % kv for kv in sorted(by_kind.items()))))
    shown = collections.Counter()
    for x in viol:
        if shown[x.kind] >= max_shown:
            continue
        shown[x.kind] += 1
        out("VIOLATION %s: %s" % (x.kind, x.msg))
        for e in excerpt(history, x):
            out("    " + fmt(e))
    return 1


if __name__ == "__main__":
    sys.exit(report(load(sys.argv[1])))
