#!/usr/bin/env bash
# kcat produce/consume round trips: keys, headers, timestamps, sizes.
source "$(dirname "$0")/common.sh"
start_default_broker || exit 1

test_keys_roundtrip() {
  printf 'k1:v1\nk2:v2\n:nokey\nk3:\n' | kc_produce pc_keys -p 0 -K :
  local out
  out=$(kc_consume pc_keys -p 0 -f '%k=%s@%o;')
  assert_eq 'k1=v1@0;k2=v2@1;=nokey@2;k3=@3;' "$out" "keys/values/offsets"
}

test_null_key_and_value_json() {
  printf 'k1:v1\n' | kc_produce pc_json -p 0 -K :
  printf 'solo\n' | kc_produce pc_json -p 0
  kc_consume pc_json -p 0 -J >"$WORK/json.out"
  cat "$WORK/json.out"
  py '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 2, lines
a, b = lines
assert (a["topic"], a["partition"], a["offset"], a["key"], a["payload"]) == ("pc_json", 0, 0, "k1", "v1"), a
assert (b["offset"], b["key"], b["payload"]) == (1, None, "solo"), b
assert a["tstype"] == "create" and b["tstype"] == "create", lines
' "$WORK/json.out"
}

test_headers_roundtrip() {
  printf 'with-headers\n' | kc_produce pc_headers -p 0 -H h1=a -H h2=bb -H h1=dup -H empty=
  kc_consume pc_headers -p 0 -J >"$WORK/h.out"
  cat "$WORK/h.out"
  py '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
m = lines[0]
assert m["payload"] == "with-headers", m
# order and duplicates are preserved
assert m["headers"] == ["h1", "a", "h2", "bb", "h1", "dup", "empty", ""], m["headers"]
' "$WORK/h.out"
}

test_timestamps_roundtrip() {
  local before after
  before=$(now_ms)
  seq_lines ts 3 | kc_produce pc_ts -p 0
  after=$(now_ms)
  local out
  out=$(kc_consume pc_ts -p 0 -f '%T %s\n')
  echo "$out"
  [ "$(echo "$out" | wc -l)" -eq 3 ] || fail "expected 3 records"
  local ts v
  while read -r ts v; do
    [ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ] || fail "timestamp $ts of $v not within [$before, $after]"
  done <<<"$out"
}

test_large_value() {
  py 'import sys; sys.stdout.write("x" * 200000 + "\n" + "y" * 50000 + "\n")' >"$WORK/big.in"
  kc_produce pc_big -p 0 -X message.max.bytes=1000000 <"$WORK/big.in"
  kc_consume pc_big -p 0 -f '%S %o\n' >"$WORK/big.out"
  assert_eq $'200000 0\n50000 1' "$(cat "$WORK/big.out")" "sizes and offsets of large values"
  kc_consume pc_big -p 0 -c 1 -f '%s\n' | cmp - <(head -n 1 "$WORK/big.in") || fail "large value content differs"
}

test_many_small_records() {
  seq_lines m 5000 >"$WORK/many.in"
  kc_produce pc_many -p 0 -X linger.ms=20 <"$WORK/many.in"
  kc_consume pc_many -p 0 -f '%o %s\n' >"$WORK/many.out"
  py '
import sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert len(lines) == 5000, len(lines)
for i, l in enumerate(lines):
    assert l == "%d m%d" % (i, i), (i, l)
' "$WORK/many.out"
}

run_test "keys round-trip with dense offsets" test_keys_roundtrip
run_test "JSON envelope: null key, create timestamps" test_null_key_and_value_json
run_test "headers round-trip (order, duplicates, empty value)" test_headers_roundtrip
run_test "CreateTime timestamps round-trip" test_timestamps_roundtrip
run_test "large values (200 kB) round-trip" test_large_value
run_test "5000 small records in order, offsets 0..4999" test_many_small_records
finish_suite
