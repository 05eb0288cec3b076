#!/usr/bin/env bash
# Partitioning is the client's job; the broker must report 3 partitions and honour
# the partition asked for.
source "$(dirname "$0")/common.sh"
start_default_broker || exit 1

test_same_key_same_partition() {
  py '
for r in range(6):
    for k in range(12):
        print("key%d:val-%d-%d" % (k, k, r))
' | kc_produce part_keys -K :
  kc_consume part_keys -f '%p %k %s\n' >"$WORK/keys.out"
  py '
import sys, collections
rows = [l.split(" ") for l in open(sys.argv[1]).read().split("\n") if l]
assert len(rows) == 72, len(rows)
where = collections.defaultdict(set)
order = collections.defaultdict(list)
for p, k, v in rows:
    where[k].add(int(p))
    order[k].append(int(v.split("-")[2]))
for k, ps in where.items():
    assert len(ps) == 1, (k, ps)
    assert order[k] == list(range(6)), (k, order[k])  # same key: in order
used = set().union(*where.values())
assert len(used) >= 2, used
assert used <= {0, 1, 2}, used
' "$WORK/keys.out"
}

test_keyless_spread() {
  seq_lines nk 90 | kc_produce part_nokey -X topic.partitioner=random -X sticky.partitioning.linger.ms=0
  kc_consume part_nokey -f '%p %s\n' >"$WORK/nokey.out"
  py '
import sys, collections
rows = [l.split(" ") for l in open(sys.argv[1]).read().split("\n") if l]
assert len(rows) == 90, len(rows)
assert sorted(v for _, v in rows) == sorted("nk%d" % i for i in range(90))
c = collections.Counter(int(p) for p, _ in rows)
print(c)
assert set(c) == {0, 1, 2}, c
' "$WORK/nokey.out"
}

test_explicit_partition_honoured() {
  local p
  for p in 0 1 2; do echo "to-$p" | kc_produce part_explicit -p "$p"; done
  for p in 0 1 2; do
    assert_eq "to-$p" "$(kc_consume part_explicit -p "$p" -f '%s\n')" "partition $p content"
  done
}

test_partition_count_in_metadata() {
  echo x | kc_produce part_count -p 0
  kc_json_meta part_count >"$WORK/pc.json"
  py '
import json, sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["topics"] if t["topic"] == "part_count"][0]
assert len(t["partitions"]) == 3, t
' "$WORK/pc.json"
}

test_produce_to_missing_partition_fails() {
  # partition 7 does not exist: librdkafka fails the message locally (unknown partition).
  if echo nope | timeout 20 kcat -P -b "$BOOTSTRAP" -m 5 -t part_count -p 7 2>"$WORK/err"; then
    fail "produce to partition 7 of a 3-partition topic succeeded"
  fi
  cat "$WORK/err"
  grep -qi "partition" "$WORK/err" || fail "error should mention the partition"
}

run_test "same key -> same partition, in order" test_same_key_same_partition
run_test "keyless records spread over all 3 partitions" test_keyless_spread
run_test "explicit partition honoured" test_explicit_partition_honoured
run_test "auto-created topic has num.partitions=3" test_partition_count_in_metadata
run_test "produce to a missing partition fails" test_produce_to_missing_partition_fails
finish_suite
