#!/usr/bin/env bash
# Producer compression codecs and acks settings.
source "$(dirname "$0")/common.sh"
start_default_broker || exit 1

roundtrip_codec() {
  local codec=$1 topic="cmp_$1"
  # compressible and varied payloads, several batches
  py '
import sys
for i in range(300):
    print("rec-%04d-" % i + ("abcdefgh" * (i % 40)))
' >"$WORK/$codec.in"
  kc_produce "$topic" -p 0 -X compression.codec="$codec" -X linger.ms=50 -X batch.num.messages=100 \
    -k "key-$codec" <"$WORK/$codec.in"
  kc_consume "$topic" -p 0 -f '%o|%k|%s\n' >"$WORK/$codec.out"
  py '
import sys
inp = open(sys.argv[1]).read().split("\n")[:-1]
out = open(sys.argv[2]).read().split("\n")[:-1]
assert len(out) == len(inp) == 300, (len(inp), len(out))
for i, (a, b) in enumerate(zip(inp, out)):
    assert b == "%d|key-%s|%s" % (i, sys.argv[3], a), (i, b[:80])
' "$WORK/$codec.in" "$WORK/$codec.out" "$codec"
}

test_gzip() { roundtrip_codec gzip; }
test_snappy() { roundtrip_codec snappy; }
test_lz4() { roundtrip_codec lz4; }
test_zstd() { roundtrip_codec zstd; }

test_mixed_codecs_one_partition() {
  local c
  for c in none gzip snappy lz4 zstd; do
    seq_lines "$c-" 20 | kc_produce cmp_mixed -p 0 -X compression.codec="$c"
  done
  local expected=""
  for c in none gzip snappy lz4 zstd; do expected+="$(seq_lines "$c-" 20)"$'\n'; done
  assert_eq "${expected%$'\n'}" "$(kc_consume cmp_mixed -p 0 -f '%s\n')" "mixed codecs in one log"
  assert_eq "99 zstd-19" "$(kc_consume cmp_mixed -p 0 -o 99 -f '%o %s\n')" "last offset"
  assert_eq "25 gzip-5" "$(kc_consume cmp_mixed -p 0 -o 25 -c 1 -f '%o %s\n')" "fetch from the middle of a compressed batch"
}

roundtrip_acks() {
  local acks=$1 topic="acks_$2"
  seq_lines "a$2-" 50 | kc_produce "$topic" -p 0 -X acks="$acks"
  # acks=0 produces are fire-and-forget: allow the broker a moment to append.
  local out i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    out=$(kc_consume "$topic" -p 0 -f '%s\n' 2>/dev/null || true)
    [ "$(echo "$out" | grep -c .)" -ge 50 ] && break
    sleep 0.3
  done
  assert_eq "$(seq_lines "a$2-" 50)" "$out" "acks=$acks round trip"
}

test_acks_0() { roundtrip_acks 0 zero; }
test_acks_1() { roundtrip_acks 1 one; }
test_acks_all() { roundtrip_acks all all; }
test_acks_minus1() { roundtrip_acks -1 minus1; }

test_acks_all_delivery_offsets() {
  # a second producer continues at the log end offset
  seq_lines x 7 | kc_produce acks_offsets -p 0 -X acks=all
  seq_lines y 3 | kc_produce acks_offsets -p 0 -X acks=all
  assert_eq $'7 y0\n8 y1\n9 y2' "$(kc_consume acks_offsets -p 0 -o 7 -f '%o %s\n')" "offsets continue across producers"
}

run_test "gzip round trip" test_gzip
run_test "snappy round trip" test_snappy
run_test "lz4 round trip" test_lz4
run_test "zstd round trip" test_zstd
run_test "all codecs mixed in one partition; fetch mid-batch" test_mixed_codecs_one_partition
run_test "acks=0" test_acks_0
run_test "acks=1" test_acks_1
run_test "acks=all" test_acks_all
run_test "acks=-1" test_acks_minus1
run_test "offsets continue across producers" test_acks_all_delivery_offsets
finish_suite
