#!/usr/bin/env bash
# `make cluster`: a local etcd and three runnel brokers on 127.0.0.1:9092-9094,
# data under DATA/cluster (etcd/, node-1/, node-2/, node-3/), consoles and /metrics on
# 127.0.0.1:9644-9646 (node 1-3). Ctrl-C stops them all.
# Topics created without a replication factor get three replicas and need two
# in sync for acks=all (default.replication.factor=3, min.insync.replicas=2;
# Kafka's defaults, 1 and 1, would leave the example's topics unreplicated).
#
#   tools/cluster.sh BUILD_DIR DATA_DIR
set -u
BUILD_DIR="${1:-build}"
DATA="${2:-./data}/cluster"
ETCD_CLIENT="${ETCD_CLIENT:-127.0.0.1:2379}"
ETCD_PEER="${ETCD_PEER:-127.0.0.1:2380}"
mkdir -p "$DATA"
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "stopping the brokers, then etcd"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null; done
  # Brokers first (a clean shutdown revokes their leases in etcd), etcd last.
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do wait "${pids[$i]}" 2>/dev/null; done
  kill -TERM "${pids[0]}" 2>/dev/null
  wait 2>/dev/null
  exit 0
}
trap stop_all INT TERM EXIT

etcd --name runnel-local --data-dir "$DATA/etcd" \
  --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
  --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
  --initial-cluster "runnel-local=http://$ETCD_PEER" --log-outputs "$DATA/etcd.log" --logger zap &
pids+=($!)
for _ in $(seq 100); do
  curl -sf -X POST -d '{"key":"AA=="}' "http://$ETCD_CLIENT/v3/kv/range" >/dev/null 2>&1 && break
  sleep 0.1
done
for n in 1 2 3; do
  "$BUILD_DIR/runnel" serve --node-id "$n" --etcd "http://$ETCD_CLIENT" --listen "127.0.0.1:$((9091 + n))" \
    --data-dir "$DATA/node-$n" --set default.replication.factor=3 --set min.insync.replicas=2 \
    --set "runnel.admin.listen=127.0.0.1:$((9643 + n))" > >(sed -u "s/^/[node $n] /") 2>&1 &
  pids+=($!)
done
echo "etcd on $ETCD_CLIENT, brokers on 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094; Ctrl-C stops them"
wait
