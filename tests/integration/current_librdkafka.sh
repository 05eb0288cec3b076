#!/usr/bin/env bash
# A current librdkafka (2.12.0, which speaks the KIP-848 consumer group
# protocol) for the integration tests, next to Debian's 2.0.2 which does not.
#
#   tests/integration/current_librdkafka.sh BUILD_DIR
#
# prints the path of the built librdkafka.so.1 as its last line. Tests load it
# into Debian's python3-confluent-kafka (which links librdkafka's stable ABI)
# with LD_LIBRARY_PATH. The source comes from the npm registry, the only
# package source the tests may reach besides Debian's: the tarball of
# node-rdkafka@3.6.1 carries librdkafka 2.12.0 under deps/librdkafka. Only the
# C library is built, against Debian's zlib, zstd, lz4 and OpenSSL, without
# GSSAPI/Cyrus SASL and curl (the tests need neither), and nothing else is
# downloaded (no --install-deps). Built once per build dir; later calls only
# print the path. Exit status 2 with a reason on stderr when it cannot be had.
set -euo pipefail

NODE_RDKAFKA_VERSION=3.6.1
WANT_VERSION=2.12.0
BUILD_DIR="${1:?usage: current_librdkafka.sh BUILD_DIR}"
mkdir -p "$BUILD_DIR"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
DEST="$BUILD_DIR/librdkafka-$WANT_VERSION"
LIB="$DEST/src/librdkafka.so.1"

if [ -f "$DEST/.built" ] && [ -f "$LIB" ]; then
  echo "$LIB"
  exit 0
fi

fail() {
  echo "current_librdkafka: $*" >&2
  exit 2
}
command -v npm >/dev/null || fail "npm is not installed"
command -v make >/dev/null || fail "make is not installed"

# One build at a time per build dir (suites may ask concurrently).
exec 9>"$BUILD_DIR/librdkafka-$WANT_VERSION.lock"
flock 9
if [ -f "$DEST/.built" ] && [ -f "$LIB" ]; then
  echo "$LIB"
  exit 0
fi

WORK="$(mktemp -d "$BUILD_DIR/librdkafka-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
(cd "$WORK" && npm pack --silent --loglevel=error "node-rdkafka@$NODE_RDKAFKA_VERSION" >/dev/null) ||
  fail "npm pack node-rdkafka@$NODE_RDKAFKA_VERSION failed (no access to the npm registry?)"
tar -xzf "$WORK/node-rdkafka-$NODE_RDKAFKA_VERSION.tgz" -C "$WORK" package/deps/librdkafka ||
  fail "node-rdkafka@$NODE_RDKAFKA_VERSION has no deps/librdkafka"
SRC="$WORK/package/deps/librdkafka"
grep -q "RD_KAFKA_VERSION *0x020c00ff" "$SRC/src/rdkafka.h" || fail "the tarball's librdkafka is not $WANT_VERSION"

{
  cd "$SRC"
  # System libraries only; --install-deps (which downloads) is never used.
  ./configure --disable-gssapi --disable-curl --enable-zstd --enable-ssl \
    --prefix="$DEST/install"
  nice make -j"${RDKAFKA_BUILD_JOBS:-2}" -C src librdkafka.so.1
} >"$WORK/build.log" 2>&1 || {
  tail -30 "$WORK/build.log" >&2
  fail "building librdkafka $WANT_VERSION failed"
}
rm -rf "$DEST"
mkdir -p "$DEST/src"
cp "$SRC/src/librdkafka.so.1" "$DEST/src/"
cp "$WORK/build.log" "$DEST/build.log"
echo "$(( $(date +%s) - start ))" >"$DEST/build-seconds"
touch "$DEST/.built"
echo "current_librdkafka: built librdkafka $WANT_VERSION in $(cat "$DEST/build-seconds") s" >&2
echo "$LIB"
