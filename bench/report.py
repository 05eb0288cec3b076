#!/usr/bin/env python3
"""Turns the raw results of bench/run.sh (one directory) into one table and one JSON file.

usage: report.py RESULTS_DIR OUT_JSON
"""
import csv
import glob
import json
import os
import re
import sys

R, OUT = sys.argv[1], sys.argv[2]


def load(name):
    try:
        with open(os.path.join(R, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def text(name):
    try:
        with open(os.path.join(R, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def num(name):
    t = text(name)
    try:
        return float(t) if t else None
    except ValueError:
        return None


machine = {}
for line in (text("machine.txt") or "").splitlines():
    k, _, v = line.partition("=")
    machine[k] = v
notes = {}
for line in (text("notes.jsonl") or "").splitlines():
    notes.update(json.loads(line))

# ------------------------------------------------------------------ limits
limits = {}
for bs in ("64k", "256k", "1m"):
    j = load(f"fio-{bs}.json")
    if j and j.get("jobs"):
        w = j["jobs"][0]["write"]
        limits[f"fio_fdatasync_{bs}_mb_per_s"] = w["bw_bytes"] / 1e6
j = load("fio-4k.json")
if j and j.get("jobs"):
    s = j["jobs"][0].get("sync", {}).get("lat_ns", {})
    p = s.get("percentile", {})
    limits["fdatasync_4k_p50_ms"] = p.get("50.000000", 0) / 1e6
    limits["fdatasync_4k_p99_ms"] = p.get("99.000000", 0) / 1e6
    limits["fdatasync_4k_per_s"] = j["jobs"][0]["write"]["iops"]
# Where fio is not installed, bench/disk_bandwidth.py runs the same job.
disk_tool = "fio"
if not any(k.startswith("fio_fdatasync") for k in limits):
    for bs in ("64k", "256k", "1m"):
        j = load(f"disk-{bs}.json")
        if j:
            limits[f"probe_fdatasync_{bs}_mb_per_s"] = j["bw_bytes"] / 1e6
            disk_tool = "bench/disk_bandwidth.py"
disk = max([v for k, v in limits.items() if "_fdatasync_" in k and k.endswith("_mb_per_s")], default=None)
if disk:
    limits["disk_mb_per_s"] = disk
# The same writes as a log makes them: 16 files growing (the jobs above overwrite a file
# written once, so their fdatasyncs carry no metadata; see run.sh).
j = load("fio-append16-1m.json")
probe = load("disk-append16-1m.json")
if j and j.get("jobs"):
    limits["append16_1m_mb_per_s"] = j["jobs"][0]["write"]["bw_bytes"] / 1e6
elif probe:
    limits["append16_1m_mb_per_s"] = probe["bw_bytes"] / 1e6
append16 = limits.get("append16_1m_mb_per_s")
j = load("fio-append-4k.json")
if j and j.get("jobs"):
    p = j["jobs"][0].get("sync", {}).get("lat_ns", {}).get("percentile", {})
    limits["fdatasync_append_4k_p50_ms"] = p.get("50.000000", 0) / 1e6
    limits["fdatasync_append_4k_p99_ms"] = p.get("99.000000", 0) / 1e6
j = load("iperf3.json")
net = None
if j and "sum_received" in j.get("end", {}):
    net = j["end"]["sum_received"]["bits_per_second"] / 8 / 1e6
    limits["loopback_tcp_mb_per_s"] = net

# ------------------------------------------------------------------ peers
peers = []  # dicts: name, size, durable, records, records_per_s, mb_per_s, p50/p99/p999/max
for fsync in ("always", "everysec"):
    for size in (100, 1024):
        path = os.path.join(R, f"redis-{fsync}-{size}.csv")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            rows = list(csv.reader(f))
        if len(rows) < 2:
            continue
        h = {k: i for i, k in enumerate(rows[0])}
        v = rows[1]
        rps = float(v[h["rps"]])
        xlen = text(f"redis-{fsync}-{size}.xlen")
        peers.append(dict(
            name=f"redis XADD appendfsync={fsync}", size=size, durable=(fsync == "always"),
            records=int(xlen) if xlen and xlen.isdigit() else None,
            records_per_s=rps, mb_per_s=rps * size / 1e6,
            p50_ms=float(v[h["p50_latency_ms"]]), p99_ms=float(v[h["p99_latency_ms"]]),
            p999_ms=None, max_ms=float(v[h["max_latency_ms"]]), latency_kind="per pipelined request"))
nats_version = (text("nats-version.txt") or "nats-server").split()[-1]
for size in (100, 1024):
    j = load(f"nats-{size}B.json")
    if not j:
        continue
    peers.append(dict(
        # nats-server 2.9 fsyncs JetStream files on a 2-minute timer and refuses sync_interval:
        # it is compared with acks=1, not with acks=all.
        name=f"NATS JetStream file ({nats_version})", size=size, durable=False,
        records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"],
        p999_ms=j["ack_latency_p999_ms"], max_ms=j["ack_latency_max_ms"],
        latency_kind="publish->PubAck"))

# RabbitMQ (runnel-bench rabbitmq, librabbitmq) and ActiveMQ (runnel-bench activemq, STOMP 1.2):
# publish with a window of 4000 unconfirmed, then one consumer reads everything back
# (consume_* fields), and a light-load run (-light) for produce->ack latency at a fixed rate.
# A classic durable queue confirms a persistent message once it is fsync'd, KahaDB
# (enableJournalDiskSyncs) answers a receipted persistent SEND after its journal sync; a
# stream queue confirms without an fsync of its own (see bench/README.md): acks=1 class.
mq_versions = {"rabbitmq": text("rabbitmq-version.txt") or "?", "activemq": text("activemq-version.txt") or "?"}
mq_kinds = (("rabbitmq-classic", f"RabbitMQ {mq_versions['rabbitmq']} classic durable queue, persistent, confirms", True),
            ("rabbitmq-stream", f"RabbitMQ {mq_versions['rabbitmq']} stream queue, confirms", False),
            ("activemq", f"ActiveMQ {mq_versions['activemq']} KahaDB, STOMP persistent:true + receipt", True))
mq_light = []
for prefix, name, durable in mq_kinds:
    for size in (100, 1024):
        j = load(f"{prefix}-{size}B.json")
        if not j:
            continue
        peers.append(dict(
            name=name, size=size, durable=durable, records=j["records"], records_per_s=j["records_per_s"],
            mb_per_s=j["mb_per_s"], p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"],
            p999_ms=j["ack_latency_p999_ms"], max_ms=j["ack_latency_max_ms"],
            latency_kind=f"publish->ack, {j.get('window')} in flight", error=j.get("error"),
            consume_records=j.get("consume_records"), consume_records_per_s=j.get("consume_records_per_s"),
            consume_mb_per_s=j.get("consume_mb_per_s"), consume_prefetch=j.get("consume_prefetch"),
            consume_error=j.get("consume_error")))
    j = load(f"{prefix}-100B-light.json")
    if j:
        mq_light.append(dict(name=name, size=100, rate_offered=j.get("rate_offered"), records=j["records"],
                             records_per_s=j["records_per_s"], p50_ms=j["ack_latency_p50_ms"],
                             p99_ms=j["ack_latency_p99_ms"], p999_ms=j["ack_latency_p999_ms"],
                             max_ms=j["ack_latency_max_ms"], failed=j.get("failed")))


def best_peer(size, durable_only):
    c = [p for p in peers if p["size"] == size and (p["durable"] or not durable_only)]
    return max(c, key=lambda p: p["records_per_s"]) if c else None


# ------------------------------------------------------------------ runnel rows
rows = []


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def cpu(j):
    b = num(j["label"] + ".broker_cpu")
    c = j.get("client_cpu_s")
    return f"{b:.1f}/{c:.1f}" if b is not None and c is not None else None


for path in sorted(glob.glob(os.path.join(R, "produce-*.json"))):
    j = load(os.path.basename(path))
    size, durable = j["record_size"], j["acks"] == "all"
    if j["label"].endswith("1perrequest"):
        rows.append(dict(
            workload=f"runnel produce {size} B, acks={j['acks']}, 1 record/request, 5 in flight "
                     f"(x disk: requests/s over fdatasyncs/s)",
            records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
            p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"],
            p999_ms=j["ack_latency_p999_ms"], max_ms=j["ack_latency_max_ms"],
            vs_disk=ratio(j["records_per_s"], limits.get("fdatasync_4k_per_s")),
            failed=j.get("failed"), error=j.get("error"), cpu=cpu(j)))
        continue
    if j["label"].endswith("-txn100"):
        plain = load(re.sub(r"(-\d+producers)?-txn100", "", os.path.basename(path)))
        rows.append(dict(
            workload=f"runnel produce {size} B x {j['partitions']} part, acks=all, transactions of "
                     f"{j['records_per_txn']} records, {j['producers']} producer(s), "
                     f"{j['transactions_per_s']:.0f} txn/s (x acks=all: share of the plain acks=all row)",
            records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
            p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"], p999_ms=j["ack_latency_p999_ms"],
            max_ms=j["ack_latency_max_ms"], latency_kind="produce->ack",
            vs_peer=ratio(j["records_per_s"], plain and plain.get("records_per_s")), peer="acks=all, no transactions",
            failed=j.get("failed"), error=j.get("error"), cpu=cpu(j)))
        continue
    if j["label"].endswith("-idempotent"):
        plain = load(os.path.basename(path).replace("-idempotent", ""))
        rows.append(dict(
            workload=f"runnel produce {size} B x {j['partitions']} part, acks=all, idempotent "
                     f"(x acks=all: share of the plain acks=all row)",
            records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
            p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"], p999_ms=j["ack_latency_p999_ms"],
            max_ms=j["ack_latency_max_ms"], latency_kind="produce->ack",
            vs_peer=ratio(j["records_per_s"], plain and plain.get("records_per_s")), peer="acks=all, not idempotent",
            failed=j.get("failed"), error=j.get("error"), cpu=cpu(j)))
        continue
    bp = best_peer(size, durable)
    rows.append(dict(
        workload=f"runnel produce {size} B x {j['partitions']} part, acks={j['acks']}",
        records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        p50_ms=j["ack_latency_p50_ms"], p99_ms=j["ack_latency_p99_ms"], p999_ms=j["ack_latency_p999_ms"],
        max_ms=j["ack_latency_max_ms"], latency_kind="produce->ack",
        vs_disk=ratio(j["mb_per_s"], disk), vs_net=ratio(j["mb_per_s"], net),
        vs_peer=ratio(j["records_per_s"], bp and bp["records_per_s"]), peer=bp and f"{bp['name']} {size} B",
        failed=j.get("failed"), error=j.get("error"), cpu=cpu(j)))
for path in sorted(glob.glob(os.path.join(R, "consume-*.json"))):
    j = load(os.path.basename(path))
    rows.append(dict(
        workload=f"runnel consume whole log, cold consumer, {j['partitions']} part ({j['label']})",
        records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        vs_net=ratio(j["mb_per_s"], net), error=j.get("error"), cpu=cpu(j)))
# Issue 14: the same workloads over the broker's SSL (and SASL_SSL) listener, each against the
# plaintext row of the same run: x best peer is TLS records/s over plaintext records/s.
TLS_ROWS = (("tls-produce-1024B-16p-acks1", "produce-1024B-16p-acks1", "produce 1024 B x 16 part, acks=1, SSL"),
            ("tls-produce-1024B-16p-acksall", "produce-1024B-16p-acksall", "produce 1024 B x 16 part, acks=all, SSL"),
            ("tls-produce-1024B-16p-acksall-sasl-scram", "produce-1024B-16p-acksall",
             "produce 1024 B x 16 part, acks=all, SASL_SSL SCRAM-SHA-512"),
            ("tls-consume-1024B-16p", "consume-1024B-16p", "consume whole log, cold consumer, 16 part, SSL"))
tls_ratios = {}
for name, plain_name, what in TLS_ROWS:
    j = load(name + ".json")
    if not j:
        continue
    plain = load(plain_name + ".json")
    share = ratio(j["records_per_s"], plain and plain.get("records_per_s"))
    tls_ratios[name] = share
    rows.append(dict(
        workload=f"runnel TLS {what} (x best peer: share of the plaintext row)",
        records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        p50_ms=j.get("ack_latency_p50_ms"), p99_ms=j.get("ack_latency_p99_ms"),
        p999_ms=j.get("ack_latency_p999_ms"), max_ms=j.get("ack_latency_max_ms"),
        vs_net=ratio(j["mb_per_s"], net), vs_peer=share, peer=f"plaintext {plain_name} of this run",
        failed=j.get("failed"), error=j.get("error"), cpu=cpu(j)))
# Issue 14 with the lean client (runnel-bench blast / fetch-blast): plaintext and TLS rows of the
# same run, each with the broker's and the client's CPU per MB; x best peer of a TLS row is its
# records/s over the plaintext row's, and "cpu-bound share" is plaintext (broker + client) CPU
# per MB over TLS's: the throughput share when the two processes are CPU-bound on shared cores.
BLAST_ROWS = (("blast-tls-produce-1024B-16p-acks1", "blast-produce-1024B-16p-acks1", "produce 1024 B x 16 part, acks=1, SSL"),
              ("blast-tls-produce-1024B-16p-acksall", "blast-produce-1024B-16p-acksall",
               "produce 1024 B x 16 part, acks=all, SSL"),
              ("blast-sasl-ssl-produce-1024B-16p-acksall", "blast-produce-1024B-16p-acksall",
               "produce 1024 B x 16 part, acks=all, SASL_SSL PLAIN"),
              ("blast-tls-consume-1024B-16p", "blast-consume-1024B-16p", "consume whole log, 16 part, SSL"))


def fmt_num(v, d=0):
    return "-" if v is None else f"{v:.{d}f}"


def cpu_per_mb(j):
    if not j or j.get("broker_cpu_us_per_mb") is None:
        return None
    return j["broker_cpu_us_per_mb"] + j["client_cpu_us_per_mb"]


def lean_row(j, what, tail="", **extra):
    """A row of runnel-bench blast / fetch-blast: its figures, and the broker's and the
    client's CPU per MB in the workload's name."""
    return dict(
        workload=f"runnel lean client (blast) {what}; CPU us/MB broker/client "
                 f"{fmt_num(j.get('broker_cpu_us_per_mb'))}/{fmt_num(j.get('client_cpu_us_per_mb'))}{tail}",
        records=j["records"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        p50_ms=j.get("request_latency_p50_ms"), p99_ms=j.get("request_latency_p99_ms"),
        p999_ms=j.get("request_latency_p999_ms"), max_ms=j.get("request_latency_max_ms"),
        error=j.get("error"), failed=j.get("failed"), cpu=cpu(j), **extra)


blast_ratios = {}
for name in ("blast-produce-1024B-16p-acks1", "blast-produce-1024B-16p-acksall", "blast-consume-1024B-16p"):
    j = load(name + ".json")
    if j:
        rows.append(lean_row(j, f"{name[6:]} plaintext", vs_net=ratio(j["mb_per_s"], net)))
# Issue 12 with the lean client: idempotent acks=all over the same without idempotence, both 5
# in flight.
plain_w5 = load("blast-produce-1024B-16p-acksall-w5-plain.json")
for name, what in (("blast-produce-1024B-16p-acksall-w5-plain", "plain"),
                   ("blast-produce-1024B-16p-acksall-w5-idempotent", "idempotent")):
    j = load(name + ".json")
    if not j:
        continue
    share = ratio(j["records_per_s"], plain_w5 and plain_w5.get("records_per_s")) if what == "idempotent" else None
    rows.append(lean_row(j, f"produce 1024 B x 16 part, acks=all, 5 in flight, {what}",
                         " (x best peer: share of the plain row)" if what == "idempotent" else "",
                         vs_peer=share, peer="the plain lean row of this run" if share is not None else None))
# Issue 12 with the lean client: transactions of 100 records over plain acks=all with the same
# 100-record batches (and over librdkafka's acks=all row, whose batches are larger).
plain_b100 = load("blast-produce-100B-1p-acksall-b100.json")
if plain_b100:
    rows.append(lean_row(plain_b100, "produce 100 B x 1 part, acks=all, batches of 100, 8 in flight"))
for n in (1, 16, 64):
    j = load(f"blast-txn100-100B-1p-{n}producers.json")
    if not j:
        continue
    j = dict(j, request_latency_p50_ms=j.get("txn_latency_p50_ms"), request_latency_p99_ms=j.get("txn_latency_p99_ms"),
             request_latency_p999_ms=j.get("txn_latency_p999_ms"), request_latency_max_ms=j.get("txn_latency_max_ms"))
    rdk = load("produce-100B-1p-acksall.json")
    share = ratio(j["records_per_s"], plain_b100 and plain_b100.get("records_per_s"))
    rows.append(lean_row(j, f"transactions of 100 x 100 B, 1 part, {n} producer{'s' if n > 1 else ''}, "
                            f"{fmt_num(j['transactions_per_s'])} txn/s, latency per transaction; share of "
                            f"librdkafka's acks=all row {fmt_num(ratio(j['records_per_s'], rdk and rdk.get('records_per_s')), 2)}",
                         " (x best peer: share of the lean acks=all row with batches of 100)",
                         vs_peer=share, peer="the lean acks=all row with batches of 100"))
# The same shapes for a perfect broker on this disk and kernel (bench/txn_floor.c).
# Without requests (the disk and the syncs alone), and with them (TXN_FLOOR_NET=1: the Kafka requests
# over loopback TCP from a client on the same cores, a broker thread per connection syncing inline).
# And with requests and each sync handed to a thread of its own (TXN_FLOOR_HANDOFF=1), as an
# event-loop broker must.
for n, net, handoff in ((16, False, False), (64, False, False), (16, True, False), (64, True, False),
                        (64, True, True)):
    j = load(f"txn-floor-{'net-' if net else ''}{'handoff-' if handoff else ''}{n}producers.json")
    if not j:
        continue
    how = ("threads, files, group-committed fdatasyncs and the requests over loopback TCP" if net
           else "threads, files and group-committed fdatasyncs, no network")
    if handoff:
        how += ", each sync on a thread of its own"
    rows.append(dict(
        workload=f"transaction floor{' with requests' if net else ''}{' and sync hand-off' if handoff else ''}, "
                 f"{n} producers: a perfect broker's syncs "
                 f"({how}) for transactions of 100 x 100 B, {fmt_num(j['transactions_per_s'])} txn/s "
                 f"({j['txn_fdatasyncs_per_txn']:.2f} fdatasyncs, {j['txn_cpu_us_per_txn']:.0f} us CPU each), "
                 f"against its plain batches of 100, {fmt_num(j['plain_batches_per_s'])}/s, 8 in flight "
                 f"(bench/txn_floor.c)",
        records_per_s=j["transactions_per_s"] * 100, vs_peer=j["ratio"],
        peer="the floor's own plain batches of 100"))


def floor_row(j, workload, latency_kind):
    """A perfect broker's row (bench/disk_floor.py, bench/net_floor.c): its latency percentiles."""
    return dict(workload=workload, p50_ms=j["floor_p50_ms"], p99_ms=j["floor_p99_ms"],
                p999_ms=j["floor_p999_ms"], max_ms=j["floor_max_ms"], latency_kind=latency_kind)


# How fast the VM's CPU ran right before the paced row, and at the run's start (bench/cpu_speed.py).
speed, speed_start = load("cpu-speed-before-paced.json"), load("cpu-speed-start.json") or {}
speed_note = (f"; cpu_speed.py right before: {speed['cpu_p50_ms']:.2f} ms of CPU per unit (at the run's start "
              f"{fmt_num(speed_start.get('cpu_p50_ms'), 2)})" if speed else "")
j = load("blast-latency-100B-1p-acksall-paced.json")
if j:
    rows.append(lean_row(j, f"produce 100 B x 1 part, acks=all, paced at {fmt_num(j.get('rate_offered'))} rec/s "
                            f"(50% of the acks=all max), a request of {j['batch_records']} records every 5 ms; "
                            f"latency per request from its scheduled send"
                            + (f"; broker p99 <= {j['broker_produce_handle_p99_ms_le']} ms handling, of which "
                               f"fdatasync <= {j.get('broker_fdatasync_p99_ms_le', '-')} ms"
                               if "broker_produce_handle_p99_ms_le" in j else "")
                            + speed_note))
floor = load("disk-floor-paced.json")
if floor:
    rows.append(floor_row(
        floor, f"disk floor under that paced load: a perfect broker writing and fdatasyncing the "
               f"{floor['rate']:.0f} requests/s of {floor['request_bytes']} bytes as they arrive "
               f"({floor['syncs']} syncs, p99 {floor['sync_p99_ms']:.2f} ms, max {floor['sync_max_ms']:.1f} ms; "
               f"bench/disk_floor.py --request-bytes)",
        "arrival -> end of the fdatasync that covered it"))
for mode, what in (("handoff-before", "run right before the row: a reader thread and a sync thread"),
                   ("serial", "one thread: read, write, fdatasync, answer"),
                   ("handoff", "a reader thread and a sync thread, as runnel's shard and flusher")):
    nf = load(f"net-floor-paced-{mode}.json")
    if nf:
        rows.append(floor_row(
            nf, f"perfect broker over loopback TCP under that paced load, {mode} ({what}; "
                f"{nf['rate']:.0f} requests/s of {nf['request_bytes']} bytes, {nf['window']} in flight; "
                f"bench/net_floor.c)", "scheduled send -> answer"))
for name, plain_name, what in BLAST_ROWS:
    j = load(name + ".json")
    if not j:
        continue
    plain = load(plain_name + ".json")
    share = ratio(j["records_per_s"], plain and plain.get("records_per_s"))
    a, b = cpu_per_mb(plain), cpu_per_mb(j)
    cpu_share = ratio(a, b)
    blast_ratios[name] = (share, cpu_share)
    rows.append(lean_row(j, f"TLS {what}",
                         f", cpu-bound share {fmt_num(cpu_share, 2)} (x best peer: share of the plaintext row)",
                         vs_net=ratio(j["mb_per_s"], net), vs_peer=share, peer=f"plaintext {plain_name} of this run"))
for path in sorted(glob.glob(os.path.join(R, "latency-*.json")), key=lambda p: (len(p), p)):
    j = load(os.path.basename(path))
    rows.append(dict(
        workload=f"runnel end-to-end latency @ {j['rate_offered']:.0f} rec/s offered "
                 f"({'light load' if j['label'].endswith('-light') else '50% of max'}), "
                 f"{j['record_size']} B acks={j['acks']} linger={j['linger_ms']}, 5 in flight"
                 + (f"; broker p99 <= {j['broker_produce_handle_p99_ms_le']} ms handling, "
                    f"fdatasync p99 <= {j.get('broker_fdatasync_p99_ms_le', '-')} ms"
                    if "broker_produce_handle_p99_ms_le" in j else ""),
        records=j["received"], records_per_s=j["records_per_s"], mb_per_s=j["mb_per_s"],
        p50_ms=j["e2e_latency_p50_ms"], p99_ms=j["e2e_latency_p99_ms"], p999_ms=j["e2e_latency_p999_ms"],
        max_ms=j["e2e_latency_max_ms"], latency_kind="producer send -> consumer receive",
        vs_disk=ratio(j["e2e_latency_p99_ms"], limits.get("fdatasync_4k_p99_ms")),
        vs_disk_kind="p99 / fdatasync p99", error=j.get("error") or j.get("consume_error"), cpu=cpu(j)))

# The floor the disk set for the light-load rows (bench/disk_floor.py, just before them): a perfect
# broker's produce->ack latency at that rate on this disk's fdatasyncs.
floor = load("disk-floor.json")
if floor:
    rows.append(floor_row(
        floor, f"disk floor: a perfect broker's ack latency @ {floor['rate']:.0f} rec/s on this disk's "
               f"fdatasyncs ({floor['syncs']} syncs of 4 KiB, p99 {floor['sync_p99_ms']:.2f} ms, max "
               f"{floor['sync_max_ms']:.1f} ms; bench/disk_floor.py)",
        "arrival -> end of the first fdatasync begun after it"))

# Three brokers (bench/cluster.py): each RF 3 workload next to the one-broker run of the same size.
cluster = load("cluster.json") or {}
# Disk rows first; then the same runs with every data dir in /dev/shm (memory): the three
# replicas of a one-machine cluster share one disk, so RF 3 writes each byte to it three times.


def cluster_pair(one, rf3, workload, latency, latency_kind):
    """The one-broker row and the RF 3 row of one cluster.py workload, the RF 3 one with its
    share of the one-broker rate; `workload(j)` names a row, `latency` prefixes its JSON keys."""
    for name, j in (("1 broker", one), ("3 brokers RF 3 min ISR 2", rf3)):
        if not j:
            continue
        rows.append(dict(
            workload=workload(name, j)
                     + (f" ({ratio(j.get('records_per_s'), one and one.get('records_per_s')):.2f} of 1 broker)"
                        if j is rf3 and one and one.get("records_per_s") and j.get("records_per_s") else ""),
            records=j.get("records"), records_per_s=j.get("records_per_s"), mb_per_s=j.get("mb_per_s"),
            p50_ms=j.get(latency + "_p50_ms"), p99_ms=j.get(latency + "_p99_ms"),
            p999_ms=j.get(latency + "_p999_ms"), max_ms=j.get(latency + "_max_ms"),
            latency_kind=latency_kind, error=j.get("error"), failed=j.get("failed")))


for prefix, where in (("", ""), ("memory ", ", data in memory")):
    for size in ("100B", "1KiB"):
        cluster_pair(cluster.get(prefix + "single " + size), cluster.get(prefix + "rf3 " + size),
                     lambda name, j: f"cluster.py {name}, {size} x {j.get('partitions', '?')} part, acks=all{where}",
                     "ack_latency", "produce->ack")
    # Issue 12 in a cluster: runnel-bench txn-blast, transactions of 100 records of 100 B to one
    # partition, next to the same on one broker.
    for n in (1, 16):
        cluster_pair(cluster.get(f"{prefix}single txn100 x{n}"), cluster.get(f"{prefix}rf3 txn100 x{n}"),
                     lambda name, j: f"cluster.py {name}, transactions of 100 x 100 B, {n} lean producer(s){where}: "
                                     f"{j.get('transactions_per_s', 0):,.0f} txn/s",
                     "txn_latency", "whole transaction")
for store in ("disk", "memory"):
    c = cluster.get(store + "_ceiling")
    if c:
        rows.append(dict(workload=f"cluster.py {store} ceiling: best of {len(c['shapes'])} write shapes "
                                  "(16-48 files, 64 KiB-1 MiB writes, fdatasync every 1-16 MiB), MB/s "
                                  "(RF 3 on one machine writes 3x its MB/s)", value=c["best_mb_per_s"]))
# Issue 17's latency rows, one broker and RF 3 (runnel-bench latency, 100 B, 1 partition).
for key, j in cluster.items():
    if not key.startswith("latency ") or not isinstance(j, dict):
        continue
    rows.append(dict(
        workload=f"cluster.py {key[len('latency '):]} end-to-end latency @ {j.get('rate_offered', 0):.0f} rec/s "
                 f"offered ({j.get('load', '?')}); produce->ack p50/p99 {j.get('ack_latency_p50_ms', 0):.2f}/"
                 f"{j.get('ack_latency_p99_ms', 0):.2f} ms"
                 + (f"; leader p99 <= {j['broker_produce_wait_p99_ms_le']} ms wait, fdatasync p99 <= "
                    f"{j.get('broker_fdatasync_p99_ms_le', '-')} ms" if "broker_produce_wait_p99_ms_le" in j else ""),
        records=j.get("received"), records_per_s=j.get("records_per_s"), mb_per_s=j.get("mb_per_s"),
        p50_ms=j.get("e2e_latency_p50_ms"), p99_ms=j.get("e2e_latency_p99_ms"), p999_ms=j.get("e2e_latency_p999_ms"),
        max_ms=j.get("e2e_latency_max_ms"), latency_kind="producer send -> consumer receive",
        vs_disk=ratio(j.get("e2e_latency_p99_ms"), limits.get("fdatasync_4k_p99_ms")),
        vs_disk_kind="p99 / fdatasync p99", error=j.get("error") or j.get("consume_error"), failed=j.get("failed")))
for how, what in (("kill -9", "kill -9"), ("stop", "clean stop (SIGTERM, controlled shutdown)")):
    f = cluster.get("failover", {}).get(how, {})
    if f.get("event_to_first_ack_ms") is not None:
        rows.append(dict(workload=f"cluster.py leader {what} -> first acknowledged write after it, ms "
                                  f"(longest wait between acks in the 3 s after: {f.get('max_ack_gap_ms')} ms)",
                         value=f["event_to_first_ack_ms"]))

startup = {}
MQ = ("rabbitmq", "activemq")
for who, f in (("runnel", "startup.json"), ("redis", "redis-startup.json"), ("nats", "nats-startup.json"),
               ("rabbitmq", "rabbitmq-startup.json"), ("activemq", "activemq-startup.json")):
    j = load(f)
    if j:
        startup[who] = j["median_ms"]
peer_start = min([v for k, v in startup.items() if k != "runnel"], default=None)
if "runnel" in startup:
    rows.append(dict(workload="runnel start-up to first accepted connection (median of 5), ms",
                     value=startup["runnel"], vs_peer=ratio(startup["runnel"], peer_start),
                     peer="fastest peer start-up (lower is better)"))
rss = {"runnel idle": num("rss-idle.txt"), "runnel loaded": num("rss-loaded.txt"),
       "runnel peak (VmHWM)": num("rss-hwm.txt"), "redis idle": num("redis-rss-idle.txt"),
       "redis loaded": num("redis-rss-loaded.txt"), "nats idle": num("nats-rss-idle.txt"),
       "nats loaded": num("nats-rss-loaded.txt")}
for who in MQ:
    rss[f"{who} idle"] = num(f"{who}-rss-idle.txt")
    rss[f"{who} loaded"] = num(f"{who}-rss-loaded.txt")
    rss[f"{who} peak (VmHWM)"] = num(f"{who}-rss-hwm.txt")
peer_idle = min([v for k, v in rss.items() if v and k in ("redis idle", "nats idle")], default=None)
for k in ("runnel idle", "runnel loaded", "runnel peak (VmHWM)"):
    if rss[k]:
        rows.append(dict(workload=f"{k} resident memory, MB", value=rss[k] / 1024,
                         vs_peer=ratio(rss[k], peer_idle) if k == "runnel idle" else None,
                         peer="smallest idle peer (lower is better)" if k == "runnel idle" else None))

for p in peers:
    rows.append(dict(workload=f"peer: {p['name']}, {p['size']} B", records=p["records"],
                     records_per_s=p["records_per_s"], mb_per_s=p["mb_per_s"], p50_ms=p["p50_ms"],
                     p99_ms=p["p99_ms"], p999_ms=p["p999_ms"], max_ms=p["max_ms"],
                     latency_kind=p["latency_kind"], vs_disk=ratio(p["mb_per_s"], disk),
                     vs_net=ratio(p["mb_per_s"], net), error=p.get("error")))
    if p.get("consume_records") is not None:
        rows.append(dict(workload=f"peer: {p['name']}, {p['size']} B: consume all (prefetch {p['consume_prefetch']})",
                         records=p["consume_records"], records_per_s=p["consume_records_per_s"],
                         mb_per_s=p["consume_mb_per_s"], vs_net=ratio(p["consume_mb_per_s"], net),
                         error=p.get("consume_error")))
for p in mq_light:
    rows.append(dict(workload=f"peer: {p['name']}, {p['size']} B: publish->ack at light load "
                              f"({p['rate_offered']:.0f} rec/s offered)",
                     records=p["records"], records_per_s=p["records_per_s"], mb_per_s=p["records_per_s"] * 100 / 1e6,
                     p50_ms=p["p50_ms"], p99_ms=p["p99_ms"], p999_ms=p["p999_ms"], max_ms=p["max_ms"],
                     vs_disk=ratio(p["p99_ms"], limits.get("fdatasync_4k_p99_ms")), failed=p.get("failed")))
for who in ("redis", "nats") + MQ:
    if who in startup:
        rows.append(dict(workload=f"peer: {who} start-up to first accepted connection, ms", value=startup[who]))
    if rss.get(f"{who} idle"):
        rows.append(dict(workload=f"peer: {who} idle / loaded resident memory, MB",
                         value=rss[f"{who} idle"] / 1024,
                         value2=(rss.get(f"{who} loaded") or 0) / 1024))
    if rss.get(f"{who} peak (VmHWM)"):
        rows.append(dict(workload=f"peer: {who} peak (VmHWM) resident memory, MB", value=rss[f"{who} peak (VmHWM)"] / 1024))

# ------------------------------------------------------------------ targets (issue 5)
def get(path, key):
    j = load(path)
    return j.get(key) if j else None


redis_always_100 = next((p for p in peers if p["size"] == 100 and p["durable"]), None)
p100 = get("produce-100B-1p-acksall.json", "records_per_s")
p1k = get("produce-1024B-16p-acksall.json", "mb_per_s")
c100 = get("consume-100B-1p.json", "records_per_s")
lat = get("latency-100B-1p-acksall.json", "e2e_latency_p99_ms")
targets = [
    ("produce 100 B acks=all >= 1,000,000 rec/s", p100, p100 is not None and p100 >= 1e6),
    ("produce 100 B acks=all >= 5x redis appendfsync=always",
     ratio(p100, redis_always_100 and redis_always_100["records_per_s"]),
     p100 is not None and redis_always_100 is not None and p100 >= 5 * redis_always_100["records_per_s"]),
    ("produce 1 KB acks=all >= 70% of fio fdatasync bandwidth (or the probe's where fio is missing)", ratio(p1k, disk),
     p1k is not None and disk is not None and p1k >= 0.7 * disk),
    ("produce 1 KB acks=all >= 70% of 16 files appended, 1 MiB + fdatasync each (a log's pattern)",
     ratio(p1k, append16), p1k is not None and append16 is not None and p1k >= 0.7 * append16),
    ("consume 100 B >= 2,000,000 rec/s", c100, c100 is not None and c100 >= 2e6),
    ("e2e p99 at 50% load, acks=all < 2 ms", lat, lat is not None and lat < 2),
    ("start-up < 50 ms", startup.get("runnel"), startup.get("runnel") is not None and startup["runnel"] < 50),
    ("idle resident memory < 30 MB", rss["runnel idle"] and rss["runnel idle"] / 1024,
     rss["runnel idle"] is not None and rss["runnel idle"] / 1024 < 30),
]

# ------------------------------------------------------------------ print
def f(v, d=2):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{d}f}"


print()
print("runnel benchmark — " + ", ".join(f"{k}: {machine.get(k, '?')}" for k in ("nproc", "mem", "kernel")))
print(f"cpu: {machine.get('cpu', '?')}")
print(f"disk: {machine.get('disk', '?')}")
print(f"load: {machine.get('load', '?')}")
print(f"command: {machine.get('command', '?')}   commit {machine.get('commit', '?')}  {machine.get('date', '')}")
print()
print("physical limits (same run):")
for k, v in limits.items():
    print(f"  {k:<34} {f(v)}")
print()
hdr = ["workload", "records", "rec/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "x disk", "x net",
       "x best peer", "cpu s b/c"]
table = []
for r in rows:
    if "value" in r:
        v = f(r["value"]) + (f" / {f(r['value2'])}" if r.get("value2") is not None else "")
        table.append([r["workload"], v, "", "", "", "", "", "", "", "", f(r.get("vs_peer"), 3), ""])
    else:
        table.append([r["workload"], f(r.get("records")), f(r.get("records_per_s")), f(r.get("mb_per_s")),
                      f(r.get("p50_ms"), 3), f(r.get("p99_ms"), 3), f(r.get("p999_ms"), 3), f(r.get("max_ms"), 3),
                      f(r.get("vs_disk"), 3), f(r.get("vs_net"), 3), f(r.get("vs_peer"), 3), f(r.get("cpu"))])
w = [max(len(str(x[i])) for x in table + [hdr]) for i in range(len(hdr))]
line = "  ".join(h.ljust(w[0]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(hdr))
print(line)
print("-" * len(line))
for t in table:
    print("  ".join(str(x).ljust(w[0]) if i == 0 else str(x).rjust(w[i]) for i, x in enumerate(t)))
print()
print(f"x disk: MB/s over the best {disk_tool} fdatasync'd sequential write bandwidth (latency row: p99 over the")
print("  fdatasync p99 of 4 KiB writes). x net: MB/s over iperf3 loopback TCP. x best peer: records/s over")
print("  the fastest peer of the same record size — for acks=all only peers that fsync before acknowledging")
print("  (redis appendfsync=always, RabbitMQ classic durable queue, ActiveMQ KahaDB); for acks=1 every peer.")
print("  Start-up and memory: runnel over the best peer.")
refs = sorted({r["peer"] for r in rows if r.get("peer") and r.get("vs_peer") is not None})
for p in refs:
    print(f"  peer used: {p}")
print("cpu s b/c: CPU seconds used by the broker / by runnel-bench (client) during the workload; on")
print("  2 cores a client near its own limit caps what the broker can show.")
print("Latency columns: runnel produce rows produce->ack per record; latency row producer->consumer;")
print("  redis rows redis-benchmark's per-request latency (16 clients, pipeline 32); NATS publish->PubAck;")
print("  RabbitMQ publish->confirm, ActiveMQ SEND->RECEIPT (4000 in flight; light-load rows from the intended")
print("  send time at a fixed rate: 2,000 rec/s or a tenth of the peer's 100 B maximum, whichever is lower;")
print("  their x disk is p99 over the fdatasync p99 of 4 KiB writes).")
print()
print("targets of issue 5:")
for name, v, ok in targets:
    print(f"  [{'met' if ok else ' - ' if v is None else 'NOT met'}] {name}: {f(v, 3)}")
if tls_ratios:
    print()
    print("targets of issue 14 (TLS costs under 30% of plaintext throughput at 1 KiB; records/s, same run):")
    for name, plain_name, what in TLS_ROWS:
        if name not in tls_ratios:
            continue
        share = tls_ratios[name]
        ok = share is not None and share >= 0.7
        cost = f"{(1 - share) * 100:.0f}%" if share is not None else "-"
        print(f"  [{'met' if ok else ' - ' if share is None else 'NOT met'}] {what}: {f(share, 3)} of plaintext "
              f"(costs {cost})")
        targets.append((f"issue 14: {what} >= 70% of plaintext", share, ok))
if blast_ratios:
    print()
    print("issue 14 with the lean client (runnel-bench blast / fetch-blast, 16 KiB TLS records): TLS / plaintext")
    print("  records/s of this run, and the cpu-bound share (plaintext over TLS CPU per MB, broker + client):")
    for name, plain_name, what in BLAST_ROWS:
        if name not in blast_ratios:
            continue
        share, cpu_share = blast_ratios[name]
        print(f"  {what}: {f(share, 3)} of plaintext records/s; cpu-bound share {f(cpu_share, 3)}")
failed = [r for r in rows if r.get("error") or r.get("failed")]
if notes or failed:
    print()
    print("failures and skipped parts:")
    for k, v in notes.items():
        print(f"  {k}: {v}")
    for r in failed:
        print(f"  {r['workload']}: failed={r.get('failed')} error={r.get('error')}")

# Issue 17's hard workloads (bench/hard.py): its own table, printed as it wrote it.
hard_text = text("hard.txt")
if hard_text:
    print()
    print(hard_text)

os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
with open(OUT, "w") as fh:
    json.dump(dict(machine=machine, limits=limits, disk_tool=disk_tool, rows=rows, peers=peers, peer_light_latency=mq_light, startup_ms=startup,
                   rss_kb=rss, targets=[dict(target=n, value=v, met=bool(ok)) for n, v, ok in targets],
                   notes=notes, hard=load("hard.json")), fh, indent=1)
print(f"\nJSON: {OUT}")
