#!/usr/bin/env bash
# Consuming from offsets and timestamps; ListOffsets through kcat -Q.
source "$(dirname "$0")/common.sh"
start_default_broker || exit 1

seq_lines m 10 | kc_produce off_t -p 0 || { echo "setup produce failed"; _report_dead_broker; exit 1; }

test_offset_absolute() {
  assert_eq "$(seq 4 9 | sed 's/^/m/')" "$(kc_consume off_t -p 0 -o 4 -f '%s\n')" "-o 4"
  assert_eq "m9" "$(kc_consume off_t -p 0 -o 9 -f '%s\n')" "-o 9"
  assert_eq "4 m4" "$(kc_consume off_t -p 0 -o 4 -c 1 -f '%o %s\n')" "-o 4 first offset"
}

test_offset_beginning() {
  assert_eq "$(seq_lines m 10)" "$(kc_consume off_t -p 0 -o beginning -f '%s\n')" "-o beginning"
}

test_offset_relative_from_end() {
  assert_eq $'8 m8\n9 m9' "$(kc_consume off_t -p 0 -o -2 -f '%o %s\n')" "-o -2"
}

test_offset_end_is_empty() {
  assert_eq "" "$(kc_consume off_t -p 0 -o end -f '%s\n')" "-o end"
}

test_query_offsets() {
  # -Q with the special timestamps: -1 latest (log end), -2 earliest.
  local out
  out=$(timeout 20 kcat -Q -b "$BOOTSTRAP" -m 10 -t off_t:0:-1)
  echo "$out"
  echo "$out" | grep -Eq 'off_t \[0\]\s+offset 10$' || fail "latest offset should be 10"
  out=$(timeout 20 kcat -Q -b "$BOOTSTRAP" -m 10 -t off_t:0:-2)
  echo "$out"
  echo "$out" | grep -Eq 'off_t \[0\]\s+offset 0$' || fail "earliest offset should be 0"
}

test_offset_by_timestamp() {
  seq_lines a 5 | kc_produce off_ts -p 0
  sleep 1.2
  local ts
  ts=$(now_ms)
  sleep 0.2
  seq_lines b 5 | kc_produce off_ts -p 0
  assert_eq "$(seq_lines b 5)" "$(kc_consume off_ts -p 0 -o "s@$ts" -f '%s\n')" "-o s@TS"
  local out
  out=$(timeout 20 kcat -Q -b "$BOOTSTRAP" -m 10 -t "off_ts:0:$ts")
  echo "$out"
  echo "$out" | grep -Eq 'off_ts \[0\]\s+offset 5$' || fail "offset for timestamp $ts should be 5"
  # a timestamp after every record: offset -1 (no such record) or end-of-log
  out=$(timeout 20 kcat -Q -b "$BOOTSTRAP" -m 10 -t "off_ts:0:$(( $(now_ms) + 3600000 ))")
  echo "$out"
  echo "$out" | grep -Eq 'off_ts \[0\]\s+offset (-1|10)$' || fail "offset for a future timestamp should be -1"
  # a timestamp before everything: offset 0
  out=$(timeout 20 kcat -Q -b "$BOOTSTRAP" -m 10 -t "off_ts:0:1000")
  echo "$out"
  echo "$out" | grep -Eq 'off_ts \[0\]\s+offset 0$' || fail "offset for an old timestamp should be 0"
}

test_offset_past_end_resets() {
  # Kafka answers OFFSET_OUT_OF_RANGE; with auto.offset.reset=earliest the consumer restarts at 0.
  assert_eq "m0" "$(kc_consume off_t -p 0 -o 500 -c 1 -X auto.offset.reset=earliest -f '%s\n')" "-o 500 resets to earliest"
}

run_test "-o N (absolute offset)" test_offset_absolute
run_test "-o beginning" test_offset_beginning
run_test "-o -2 (relative to end)" test_offset_relative_from_end
run_test "-o end: nothing" test_offset_end_is_empty
run_test "kcat -Q latest/earliest offsets" test_query_offsets
run_test "-o s@TS and -Q by timestamp" test_offset_by_timestamp
run_test "offset past the end: OFFSET_OUT_OF_RANGE, reset to earliest" test_offset_past_end_resets
finish_suite
