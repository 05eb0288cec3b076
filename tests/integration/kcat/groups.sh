#!/usr/bin/env bash
# librdkafka balanced consumers (kcat -G): join, assignment, committed offsets.
source "$(dirname "$0")/common.sh"
start_default_broker --set group.initial.rebalance.delay.ms=0 || exit 1

# kc_group GROUP TOPIC [kcat args]: a balanced consumer from the committed offset
# (or earliest), until the end of every assigned partition.
kc_group() {
  local group=$1 topic=$2; shift 2
  # shellcheck disable=SC2086
  timeout $KCAT_TIMEOUT kcat -q -b "$BOOTSTRAP" -m 10 -G "$group" -X auto.offset.reset=earliest \
    -X fetch.wait.max.ms=100 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 "$@" "$topic"
}

test_group_consume_and_resume() {
  seq_lines g1- 30 | kc_produce grp_resume
  kc_group kcat-g1 grp_resume -e -f '%p %o %s\n' >"$WORK/g1.out"
  py '
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert sorted(v for _, _, v in rows) == sorted("g1-%d" % i for i in range(30)), rows
' "$WORK/g1.out"
  # the consumer committed on close: the same group now sees only new records
  seq_lines g2- 5 | kc_produce grp_resume
  kc_group kcat-g1 grp_resume -e -f '%s\n' >"$WORK/g2.out"
  assert_eq "$(seq_lines g2- 5 | sort)" "$(sort "$WORK/g2.out")" "second run resumes at the committed offsets"
  # a different group starts again from the beginning
  kc_group kcat-other grp_resume -e -f '%s\n' >"$WORK/g3.out"
  assert_eq 35 "$(grep -c . "$WORK/g3.out")" "another group reads everything"
}

test_two_members_split_partitions() {
  echo init | kc_produce grp_split -p 0
  # each member runs for a fixed time and then leaves (SIGINT: kcat closes cleanly)
  KCAT_TIMEOUT="-s INT 10" kc_group kcat-split grp_split -u -f '%p %o %s\n' >"$WORK/a.out" 2>"$WORK/a.err" &
  local a=$!
  sleep 1
  KCAT_TIMEOUT="-s INT 9" kc_group kcat-split grp_split -u -f '%p %o %s\n' >"$WORK/b.out" 2>"$WORK/b.err" &
  local b=$!
  sleep 4  # both joined and the group is stable
  py '
for i in range(60):
    print("key%d:v%d" % (i, i))' | kc_produce grp_split -K :
  wait $a $b 2>/dev/null || true
  echo "A:"; sort -n "$WORK/a.out" | head -5; echo "B:"; sort -n "$WORK/b.out" | head -5
  py '
import sys
a = [l.split() for l in open(sys.argv[1]) if l.strip()]
b = [l.split() for l in open(sys.argv[2]) if l.strip()]
va = {v for _, _, v in a if v != "init"}
vb = {v for _, _, v in b if v != "init"}
want = {"v%d" % i for i in range(60)}
assert va | vb == want, ("missing", sorted(want - (va | vb))[:10])
assert not (va & vb), ("consumed by both members", sorted(va & vb)[:10])
pa = {p for p, _, v in a if v != "init"}
pb = {p for p, _, v in b if v != "init"}
assert pa and pb, ("one member got no partitions", pa, pb)
assert not (pa & pb), ("partition assigned to both", pa, pb)
' "$WORK/a.out" "$WORK/b.out"
}

test_member_killed_mid_join() {
  # CLIENT-COMPAT: groups stuck in PreparingRebalance after a member disconnects.
  echo init | kc_produce grp_kill -p 0
  KCAT_TIMEOUT="-s INT 22" kc_group kcat-kill grp_kill -u -f '%p %o %s\n' >"$WORK/k.out" 2>"$WORK/k.err" &
  local a=$!
  sleep 2
  # a second member joins and is SIGKILLed while the group rebalances
  timeout -s KILL 0.7 kcat -q -b "$BOOTSTRAP" -G kcat-kill -X session.timeout.ms=6000 \
    -X heartbeat.interval.ms=500 grp_kill >/dev/null 2>&1 || true
  # after at most a session timeout the survivor owns every partition again
  sleep 9
  py '
for i in range(30):
    print("key%d:after-%d" % (i, i))' | kc_produce grp_kill -K :
  sleep 4
  kill -INT $a 2>/dev/null || true
  wait $a 2>/dev/null || true
  py '
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
got = {v for _, _, v in rows}
want = {"after-%d" % i for i in range(30)}
assert want <= got, ("the surviving member did not get", sorted(want - got)[:10])
' "$WORK/k.out"
}

run_test "kcat -G: consume, commit on close, resume; other group from start" test_group_consume_and_resume
run_test "kcat -G: a member killed mid-join does not stall the group" test_member_killed_mid_join
run_test "kcat -G: two members split the partitions" test_two_members_split_partitions
finish_suite
