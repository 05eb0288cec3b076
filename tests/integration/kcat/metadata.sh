#!/usr/bin/env bash
# kcat -L / -L -J: brokers, topics, partition counts and leaders.
source "$(dirname "$0")/common.sh"
start_default_broker || exit 1

test_list_plain() {
  echo x | kc_produce meta_plain -p 0
  local out
  out=$(timeout 20 kcat -L -b "$BOOTSTRAP" -m 10 -t meta_plain)
  echo "$out"
  echo "$out" | grep -q "1 brokers:" || fail "expected exactly 1 broker"
  echo "$out" | grep -Eq "broker [0-9]+ at 127\.0\.0\.1:$BROKER_PORT" || fail "broker not advertised at 127.0.0.1:$BROKER_PORT"
  echo "$out" | grep -q 'topic "meta_plain" with 3 partitions' || fail "topic should have 3 partitions"
  local p
  for p in 0 1 2; do
    echo "$out" | grep -Eq "partition $p, leader [0-9]+, replicas: [0-9]+, isrs: [0-9]+" || fail "partition $p line"
  done
}

test_list_json() {
  echo x | kc_produce meta_json -p 1
  kc_json_meta >"$WORK/meta.json"
  py '
import json, sys
m = json.load(open(sys.argv[1]))
port = int(sys.argv[2])
print(json.dumps(m)[:2000])
assert len(m["brokers"]) == 1, m["brokers"]
b = m["brokers"][0]
assert b["name"] == "127.0.0.1:%d" % port, b
topics = {t["topic"]: t for t in m["topics"]}
assert "meta_json" in topics, list(topics)
t = topics["meta_json"]
assert "error" not in t, t
parts = sorted(t["partitions"], key=lambda p: p["partition"])
assert [p["partition"] for p in parts] == [0, 1, 2], parts
for p in parts:
    assert p["leader"] == b["id"], p
    assert p["replicas"] == [{"id": b["id"]}], p
    assert p["isrs"] == [{"id": b["id"]}], p
    assert "error" not in p, p
assert not any(t["topic"].startswith("__") for t in m["topics"] if t["topic"] != "__consumer_offsets"), m["topics"]
' "$WORK/meta.json" "$BROKER_PORT"
}

test_unknown_topic_no_autocreate_for_metadata_listing() {
  # kcat -L -t asks for one topic; a topic nobody produced to is auto-created
  # (allowed by the broker) or reported missing, but never listed with 0 partitions.
  kc_json_meta meta_probe >"$WORK/probe.json" || true
  py '
import json, sys
m = json.load(open(sys.argv[1]))
for t in m["topics"]:
    if t["topic"] == "meta_probe" and "error" not in t:
        assert len(t["partitions"]) == 3, t
' "$WORK/probe.json"
}

test_consumer_does_not_autocreate() {
  # librdkafka consumers send Metadata v4+ with allow_auto_topic_creation=false
  timeout 20 kcat -C -q -e -b "$BOOTSTRAP" -m 3 -t meta_consumer_only -p 0 -X fetch.wait.max.ms=100 \
    -X topic.metadata.refresh.interval.ms=500 >/dev/null 2>&1 || true
  kc_json_meta >"$WORK/all.json"
  py '
import json, sys
m = json.load(open(sys.argv[1]))
names = [t["topic"] for t in m["topics"]]
assert "meta_consumer_only" not in names, names
' "$WORK/all.json"
}

test_producer_autocreates_with_num_partitions() {
  echo first | kc_produce meta_auto
  kc_json_meta meta_auto >"$WORK/auto.json"
  py '
import json, sys
m = json.load(open(sys.argv[1]))
t = [t for t in m["topics"] if t["topic"] == "meta_auto"][0]
assert "error" not in t and len(t["partitions"]) == 3, t
' "$WORK/auto.json"
  assert_eq "first" "$(kc_consume meta_auto -f '%s\n')" "the record that created the topic"
}

run_test "kcat -L lists broker and topic partitions" test_list_plain
run_test "kcat -L -J: broker address, 3 partitions, leaders, isrs" test_list_json
run_test "kcat -L -t unknown topic: created with 3 partitions or error, never empty" test_unknown_topic_no_autocreate_for_metadata_listing
run_test "a consumer does not auto-create topics (Metadata allow_auto_topic_creation=false)" test_consumer_does_not_autocreate
run_test "a producer auto-creates a topic with num.partitions" test_producer_autocreates_with_num_partitions
finish_suite
