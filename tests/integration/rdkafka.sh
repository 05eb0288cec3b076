#!/usr/bin/env bash
# Runs the librdkafka C++ GoogleTest suite (BUILD_DIR/rdkafka_tests) against a
# broker started here; the tests read its address from RUNNEL_BOOTSTRAP.
source "$(dirname "$0")/lib.sh"
BUILD_DIR="${1:?usage: rdkafka.sh BUILD_DIR}"
TESTS="$BUILD_DIR/rdkafka_tests"
if [ ! -x "$TESTS" ]; then
  echo "missing $TESTS (CMake builds it when librdkafka-dev (rdkafka++) is installed)" >&2
  exit 1
fi
start_broker --set num.partitions=1 --set auto.create.topics.enable=true || exit 1
export RUNNEL_BOOTSTRAP="$BOOTSTRAP"
"$TESTS" --gtest_color=no
rc=$?
if ! broker_alive; then
  echo "broker died during the librdkafka tests; log tail:" >&2
  tail -n 50 "$BROKER_LOG" >&2
  rc=1
fi
exit $rc
