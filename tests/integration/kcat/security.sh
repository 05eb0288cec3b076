#!/usr/bin/env bash
# kcat (librdkafka) over SASL_SSL with SCRAM-SHA-512 and over SSL: round trips,
# Metadata naming the listener's own endpoint, and a wrong password refused
# with Kafka's message. Certificates are made here with openssl.
source "$(dirname "$0")/common.sh"

CERTS="$WORK/certs"
mkdir -p "$CERTS"
(
  cd "$CERTS" || exit 1
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 -subj /CN=runnel-kcat-ca
  openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost
  echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext
  cat server.key server.pem >keystore.pem
) >/dev/null 2>&1 || { echo "openssl failed" >&2; exit 1; }

SASL_SSL_PORT=$(free_port)
SSL_PORT=$(free_port)
start_default_broker --set "listeners=SASL_SSL://127.0.0.1:$SASL_SSL_PORT,SSL://127.0.0.1:$SSL_PORT" \
  --set ssl.keystore.location="$CERTS/keystore.pem" --set sasl.enabled.mechanisms=SCRAM-SHA-512 || exit 1
# Users are set offline: stop, add, start again.
stop_broker
"$RUNNEL_BIN" user set kc --password kc-pw --mechanism SCRAM-SHA-512 --data-dir "$BROKER_DIR" >/dev/null || exit 1
restart_broker || exit 1
wait_port "$SASL_SSL_PORT" 10 || exit 1

SASL=(-X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=kc -X sasl.password=kc-pw
  -X ssl.ca.location="$CERTS/ca.pem")
TLS=(-X security.protocol=SSL -X ssl.ca.location="$CERTS/ca.pem")

test_sasl_ssl_roundtrip() {
  seq_lines m 20 | timeout "$KCAT_TIMEOUT" kcat -P -q -b "127.0.0.1:$SASL_SSL_PORT" "${SASL[@]}" -t sec_kc -p 0
  local out
  out=$(timeout "$KCAT_TIMEOUT" kcat -C -q -e -b "127.0.0.1:$SASL_SSL_PORT" "${SASL[@]}" -t sec_kc -p 0 \
    -X fetch.wait.max.ms=100 -f '%s,')
  assert_eq "$(seq_lines m 20 | tr '\n' ',')" "$out" "records over SASL_SSL"
  # The same records over SSL (fetched batches go through the TLS stream, not sendfile).
  out=$(timeout "$KCAT_TIMEOUT" kcat -C -q -e -b "127.0.0.1:$SSL_PORT" "${TLS[@]}" -t sec_kc -p 0 -f '%s,')
  assert_eq "$(seq_lines m 20 | tr '\n' ',')" "$out" "records over SSL"
}

test_metadata_names_the_listener() {
  local out
  out=$(timeout "$KCAT_TIMEOUT" kcat -L -J -b "127.0.0.1:$SSL_PORT" "${TLS[@]}")
  py '
import json, sys
brokers = json.loads(sys.argv[1])["brokers"]
assert [b["name"] for b in brokers] == ["127.0.0.1:%s" % sys.argv[2]], brokers
' "$out" "$SSL_PORT"
}

test_wrong_password() {
  local out rc=0
  out=$(timeout "$KCAT_TIMEOUT" kcat -L -b "127.0.0.1:$SASL_SSL_PORT" -m 4 -X security.protocol=SASL_SSL \
    -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=kc -X sasl.password=nope -X ssl.ca.location="$CERTS/ca.pem" \
    2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "kcat -L succeeded with a wrong password"
  echo "$out" | grep -q "invalid credentials with SASL mechanism SCRAM-SHA-512" || fail "no Kafka message in: $out"
  grep -q "failed authentication on listener SASL_SSL with SCRAM-SHA-512 as user 'kc'" "$BROKER_LOG" ||
    fail "the attempt is not in the broker log"
}

run_test "kcat SASL_SSL SCRAM-SHA-512 round trip, read back over SSL" test_sasl_ssl_roundtrip
run_test "Metadata over SSL names the SSL listener's endpoint" test_metadata_names_the_listener
run_test "a wrong password is refused with Kafka's message and logged" test_wrong_password
finish_suite
