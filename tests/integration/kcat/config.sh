#!/usr/bin/env bash
# Broker configuration with Kafka's names: --config server.properties and --set.
source "$(dirname "$0")/common.sh"

partitions_of() {
  kc_json_meta "$1" | py '
import json, sys
m = json.load(sys.stdin)
t = [t for t in m["topics"] if t["topic"] == sys.argv[1]]
print(len(t[0]["partitions"]) if t and "error" not in t[0] else "missing")
' "$1"
}

test_config_file() {
  _LIB_TMPDIRS=(); trap _lib_cleanup EXIT
  cat >"$WORK/server.properties" <<'PROPS'
# comments and blank lines are allowed

num.partitions=2
auto.create.topics.enable=true
log.retention.hours=1
PROPS
  start_broker --config "$WORK/server.properties"
  echo x | kc_produce cfg_file -p 0
  assert_eq 2 "$(partitions_of cfg_file)" "num.partitions from the file"
}

test_kafkas_own_server_properties() {
  # Kafka's config/kraft/server.properties (combined mode) as shipped, but for
  # the ports, log.dirs and advertised.listeners (the test's own).
  _LIB_TMPDIRS=(); trap _lib_cleanup EXIT
  local controller_port
  controller_port=$(free_port)
  cat >"$WORK/kraft.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$controller_port
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:$controller_port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
PROPS
  start_broker --config "$WORK/kraft.properties" || fail "runnel did not start with Kafka's server.properties"
  echo kraft | kc_produce cfg_kraft -p 0
  assert_eq kraft "$(kc_consume cfg_kraft -p 0 -c 1 -o beginning)" "produced and consumed"
  grep -q "process.roles is a Kafka setting without use here" "$BROKER_LOG" || fail "no warning for process.roles"
  grep -q "listener CONTROLLER (controller.listener.names) is not opened" "$BROKER_LOG" || fail "no controller warning"
  if (exec 3<>"/dev/tcp/127.0.0.1/$controller_port") 2>/dev/null; then fail "the CONTROLLER listener was opened"; fi
}

test_set_overrides_file() {
  _LIB_TMPDIRS=(); trap _lib_cleanup EXIT
  printf 'num.partitions=2\nauto.create.topics.enable=true\n' >"$WORK/server2.properties"
  start_broker --config "$WORK/server2.properties" --set num.partitions=5
  echo x | kc_produce cfg_set -p 0
  assert_eq 5 "$(partitions_of cfg_set)" "--set wins over the file"
}

test_autocreate_disabled() {
  _LIB_TMPDIRS=(); trap _lib_cleanup EXIT
  start_broker --set auto.create.topics.enable=false
  if echo x | timeout 20 kcat -P -b "$BOOTSTRAP" -m 3 -t cfg_nocreate -p 0 -X message.timeout.ms=2000 2>"$WORK/nc.err"; then
    fail "produce to a missing topic succeeded with auto.create.topics.enable=false"
  fi
  cat "$WORK/nc.err"
  assert_eq missing "$(partitions_of cfg_nocreate)" "topic must not exist"
}

test_unknown_key_rejected() {
  # a misspelt key is a start-up error, not silently ignored
  local port rc
  port=$(free_port)
  timeout 10 "$RUNNEL_BIN" serve --data-dir "$WORK/bad" --listen "127.0.0.1:$port" --set num.partitionz=3 \
    >"$WORK/bad.log" 2>&1 && rc=0 || rc=$?
  cat "$WORK/bad.log"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "expected a non-zero exit for an unknown key, got $rc"
}

run_test "--config server.properties (num.partitions=2)" test_config_file
run_test "Kafka's own KRaft server.properties: starts, its controller and thread settings warned of" test_kafkas_own_server_properties
run_test "--set overrides the file" test_set_overrides_file
run_test "auto.create.topics.enable=false: no topic created by a producer" test_autocreate_disabled
run_test "unknown configuration key: start-up fails" test_unknown_key_rejected
finish_suite
