#!/usr/bin/python3
"""Three brokers on this machine against one (issue 10's benchmark).

    bench/cluster.py BUILD_DIR [--records N] [--json FILE]

1. Throughput and produce->ack latency with runnel-bench (librdkafka): one
   broker, then three brokers and etcd with replication factor 3 and
   min.insync.replicas 2, acks=all, 100 B and 1 KiB records, same runs.
   The same runs again with every data dir in memory (/dev/shm, tmpfs): on
   one machine the three replicas share one disk, so RF 3 must write every
   byte three times to it; in memory what is left is runnel's own cost on the
   two cores. Next to them, each store's ceiling for this kind of write in the
   same run: the best of a few shapes (16 or 48 files, 64 KiB to 1 MiB
   writes, fdatasync'd every 1 to 16 MiB), against which the three replicas'
   combined writes (3 x the RF 3 row's MB/s) are set.
   And transactions of 100 records (issue 12), 100 B to one partition, with
   runnel-bench txn-blast (no librdkafka), 1 and 16 producers, 10 s each,
   one broker and RF 3 (p50/p99 columns: the whole transaction's latency).
2. Latency (issue 17's rows for RF 3), 100 B to one partition, end-to-end and
   produce->ack with runnel-bench latency (LATENCY_SECONDS each, default 10):
   acks=1 and acks=all at light load (2,000 rec/s, linger 0), and acks=all at
   50% of the maximum measured in step 1 (linger 0 and linger 5), for one
   broker (50% of its 100 B max) and for three brokers, RF 3, min ISR 2 (50%
   of the RF 3 100 B max). Every broker has an admin listener: the leader's
   produce stages come from runnel-bench --broker-metrics, and every broker's
   fdatasync and Fetch handling from /metrics before and after (stages_by_node).
   Then the light acks=all row again with IDLE_PARTITIONS (default 3,000)
   other RF 3 partitions on the same brokers, idle: a follower fetches every
   partition it replicates from a leader in each request, so what a fetch
   round costs per partition is paid by every acknowledgement; with it the
   three brokers' CPU while all is idle.
3. Failover: one record at a time with acks=all (kafka-python, retry backoff
   50 ms) to a partition with three replicas; the leader is killed with
   SIGKILL; reported is the time from the kill to the first acknowledged
   write on the new leader, with default broker timeouts.

Every broker and etcd binds to 127.0.0.1 on free ports and is stopped at exit.
A benchmark is not a test: failures are reported, the exit code is 0.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "python"))

from broker import Broker, free_port  # noqa: E402
from cluster import Cluster, wait_for  # noqa: E402
from hard import cpu_s  # noqa: E402  (bench/, the script's own directory)


def run_bench_json(cmd, timeout):
    """Runs a runnel-bench command with --json - and returns its JSON result, or {"error": ...}."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    # The human-readable block comes first on stdout, the JSON line last.
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": (out.stderr.strip() or "no output")[-300:]}
    if out.returncode != 0 and "error" not in result:
        result["error"] = out.stderr.strip()[-300:]
    return result


def bench(bench_bin, bootstrap, topic, size, records, partitions):
    return run_bench_json([bench_bin, "produce", "--bootstrap", bootstrap, "--topic", topic, "--records", str(records),
                           "--record-size", str(size), "--partitions", str(partitions), "--acks", "all",
                           "--duration", "30", "--json", "-", "--quiet"], timeout=600)


def txn_blast(bench_bin, bootstrap, topic, producers):
    """runnel-bench txn-blast (issue 12's lean transactional producer): transactions of 100
    records of 100 B to one partition, `producers` at once, 10 s."""
    return run_bench_json([bench_bin, "txn-blast", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1",
                           "--record-size", "100", "--batch-records", "100", "--producers", str(producers),
                           "--duration", "10", "--json", "-", "--quiet"], timeout=300)


TXN_PRODUCERS = (1, 16)
LATENCY_SECONDS = int(os.environ.get("LATENCY_SECONDS", "10"))
LIGHT_RATE = 2000


def latency(bench_bin, bootstrap, topic, acks, rate, linger_ms, admin=None):
    """runnel-bench latency: 100 B to one partition at `rate` records/s offered."""
    cmd = [bench_bin, "latency", "--bootstrap", bootstrap, "--topic", topic, "--partitions", "1",
           "--record-size", "100", "--acks", str(acks), "--rate", str(rate), "--duration", str(LATENCY_SECONDS),
           "--linger-ms", str(linger_ms), "--json", "-", "--quiet"]
    if admin:
        cmd += ["--broker-metrics", admin]
    return run_bench_json(cmd, timeout=LATENCY_SECONDS + 120)


# Every broker's histograms worth a look in an RF 3 latency run (the leader's produce stages
# come from runnel-bench itself): its fdatasyncs, and its Fetch handling (on the leader:
# followers' and the consumer's fetches, each long poll included).
STAGE_SERIES = {"fdatasync": 'runnel_fdatasync_seconds_bucket{',
                "flush_queue": 'runnel_flush_queue_seconds_bucket{',
                "produce_wait": 'runnel_produce_stage_seconds_bucket{stage="wait"',
                "fetch_handle": 'runnel_request_handle_seconds_bucket{api="Fetch"'}


def scrape(admin):
    """{key: {upper bound: cumulative count}} from one broker's /metrics, {} if unreachable."""
    import urllib.request
    try:
        text = urllib.request.urlopen("http://%s/metrics" % admin, timeout=5).read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        for key, series in STAGE_SERIES.items():
            if line.startswith(series) and 'le="' in line:
                le = line.split('le="', 1)[1].split('"', 1)[0]
                out.setdefault(key, {})[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def stage_delta(before, after):
    """p50/p99 upper bounds (ms) and counts of each histogram between two scrapes."""
    res = {}
    for key, buckets in after.items():
        delta = sorted((b, c - before.get(key, {}).get(b, 0)) for b, c in buckets.items())
        n = delta[-1][1] if delta else 0
        if n <= 0:
            continue
        res[key + "_count"] = n
        for q, name in ((0.5, "p50"), (0.99, "p99")):
            bound = next(b for b, c in delta if c >= q * n)
            res["%s_%s_ms_le" % (key, name)] = "+Inf" if bound == float("inf") else round(bound * 1e3, 3)
    return res


def latency_rows(results, name, bench_bin, bootstrap, topic, max_rate, admins, leader):
    """Issue 17's latency rows against one setup: light load acks=1 and acks=all, then
    acks=all at 50% of `max_rate` (this run's measured maximum) with linger 0 and 5.
    admins: node id -> admin address; leader: the node leading `topic` partition 0."""
    runs = [("light acks=1", 1, LIGHT_RATE, 0), ("light acks=all", "all", LIGHT_RATE, 0)]
    if max_rate:
        half = max(100, int(max_rate * 0.5))
        runs += [("50% acks=all linger 0", "all", half, 0), ("50% acks=all linger 5", "all", half, 5)]
    for label, acks, rate, linger in runs:
        before = {n: scrape(a) for n, a in admins.items()}
        r = latency(bench_bin, bootstrap, topic, acks, rate, linger, admins.get(leader))
        r["load"] = ("light load, %d rec/s" % rate if rate == LIGHT_RATE else
                     "50%% of this run's max %.0f rec/s" % max_rate)
        r["stages_by_node"] = {str(n): dict(stage_delta(before[n], scrape(a)), leader=(n == leader))
                               for n, a in admins.items()}
        results["latency %s %s" % (name, label)] = r


IDLE_PARTITIONS = int(os.environ.get("IDLE_PARTITIONS", "3000"))


def process_cpu_seconds(pids):
    """User + system CPU seconds the processes `pids` have used so far (a gone one: 0)."""
    return sum(cpu_s(pid) or 0 for pid in pids)


def create_rf3_topics(c, topics):
    """Creates `topics` ([(name, partitions)]) with three replicas and min.insync.replicas 2
    on cluster `c`, and waits until every partition's ISR holds all three."""
    from kafka.admin import KafkaAdminClient, NewTopic
    a = KafkaAdminClient(bootstrap_servers=c.bootstrap)
    a.create_topics([NewTopic(name, parts, 3, topic_configs={"min.insync.replicas": "2"}) for name, parts in topics])
    a.close()
    for name, _ in topics:
        wait_for(lambda: all(len(s[3]) == 3 for s in c.view(1, [name])[2][name][1].values()))


def print_idle_cpu(results):
    for k, r in results.items():
        if isinstance(r, dict) and "idle_brokers_cpu_cores" in r:
            print("%s: the three brokers' CPU while idle %.2f cores, during the row %.2f" % (
                k, r["idle_brokers_cpu_cores"], r.get("brokers_cpu_cores", 0)))


def with_idle_partitions(results, c, bench_bin, topic, partitions, admins, leader):
    """`partitions` idle RF 3 partitions (topics of 100) beside `topic`: the brokers' CPU
    while nothing is produced (5 s), then the light acks=all row on `topic` again."""
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=c.bootstrap, request_timeout_ms=120000)
    t0 = time.monotonic()
    for i in range(partitions // 100):
        admin.create_topics([NewTopic("idle-%d" % i, 100, 3, topic_configs={"min.insync.replicas": "2"})],
                            timeout_ms=120000)
    admin.close()
    created_s = time.monotonic() - t0

    def all_in_sync():
        v = c.view(1, None)
        return v and all(len(s[3]) == 3 for t in v[2].values() for s in t[1].values())
    wait_for(all_in_sync, timeout=300)
    pids = [b.proc.pid for b in c.brokers.values()]
    time.sleep(2)
    before = process_cpu_seconds(pids)
    time.sleep(5)
    idle_cores = (process_cpu_seconds(pids) - before) / 5
    before_scrape = {n: scrape(a) for n, a in admins.items()}
    before = process_cpu_seconds(pids)
    r = latency(bench_bin, c.bootstrap, topic, "all", LIGHT_RATE, 0, admins.get(leader))
    r["brokers_cpu_cores"] = round((process_cpu_seconds(pids) - before) / LATENCY_SECONDS, 2)
    r["load"] = "light load, %d rec/s, %d idle RF 3 partitions beside" % (LIGHT_RATE, partitions)
    r["idle_partitions"] = partitions
    r["idle_brokers_cpu_cores"] = round(idle_cores, 2)
    r["idle_partitions_created_s"] = round(created_s, 1)
    r["stages_by_node"] = {str(n): dict(stage_delta(before_scrape[n], scrape(a)), leader=(n == leader))
                           for n, a in admins.items()}
    results["latency RF 3 light acks=all, %d idle partitions" % partitions] = r


def disk_ceiling(directory, writers=16, total=1 << 30, chunk=64 << 10, sync_every=1 << 20):
    """MB/s of `writers` files written `chunk` at a time and fdatasync'd every
    `sync_every` bytes, all at once: how fast this disk takes what a broker's
    partitions write under acks=all (os.write and os.fdatasync release the GIL)."""
    buf = b"x" * chunk
    per = total // writers

    def write(i):
        path = os.path.join(directory, "ceiling-%d" % i)
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
        try:
            since = 0
            for _ in range(per // chunk):
                os.write(fd, buf)
                since += chunk
                if since >= sync_every:
                    os.fdatasync(fd)
                    since = 0
            os.fdatasync(fd)
        finally:
            os.close(fd)
            os.unlink(path)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(per * writers / (time.monotonic() - t0) / 1e6, 1)


# Write shapes for the ceiling: the single broker's (16 partitions), the three
# brokers' together (48 replicas of 16 partitions), and larger writes synced
# less often (what a follower's fetch of up to 1 MiB per partition writes).
CEILING_SHAPES = [(16, 64 << 10, 1 << 20), (48, 64 << 10, 1 << 20), (48, 256 << 10, 4 << 20), (3, 1 << 20, 16 << 20)]


def ceiling(directory):
    """The best MB/s of the CEILING_SHAPES on `directory` (each writes 1 GiB),
    with every shape's figure: the most this storage takes in any of the ways
    the brokers write to it."""
    shapes = {"%d writers, %d KiB writes, fdatasync every %d MiB" % (w, c >> 10, s >> 20):
              disk_ceiling(directory, writers=w, chunk=c, sync_every=s) for w, c, s in CEILING_SHAPES}
    return {"best_mb_per_s": max(shapes.values()), "shapes": shapes}


def failover(cluster, topic, how, partitions=1):
    """The leader of an RF 3 topic goes (`how`: "kill -9", or "stop":
    SIGTERM, a clean stop with its controlled shutdown) while one producer
    sends acks=all records one at a time to the last partition it leads
    (with many partitions, the last whose leadership moves): the time from
    the event to the first ack of a record sent after it, and the longest
    wait between two acks from the event until 3 s later."""
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    a = KafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    a.create_topics([NewTopic(topic, partitions, 3, topic_configs={"min.insync.replicas": "2"})])
    a.close()
    def states():
        for n, b in cluster.brokers.items():
            v = b.alive() and cluster.view(n, [topic])
            if v and topic in v[2] and len(v[2][topic][1]) == partitions:
                return v[2][topic][1]
        return {p: (0, -1, [], []) for p in range(partitions)}
    wait_for(lambda: all(len(s[3]) == 3 for s in states().values()), timeout=60)
    partition = partitions - 1
    leader = states()[partition][1]

    def state():
        return states()[partition]
    prod = KafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all", retries=1000, retry_backoff_ms=50,
                         request_timeout_ms=30000, max_block_ms=30000, linger_ms=0)
    for i in range(20):
        prod.send(topic, value=b"warm-%d" % i, partition=partition).get(timeout=10)
    event = {}

    def act_soon():
        time.sleep(0.5)
        event["at"] = time.monotonic()
        if how == "stop":
            cluster.brokers[leader].stop()
        else:
            cluster.brokers[leader].kill9()
    threading.Thread(target=act_soon).start()
    first_after = None
    acks = []
    i = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sent = time.monotonic()
        prod.send(topic, value=b"r-%d" % i, partition=partition).get(timeout=60)
        acks.append(time.monotonic())
        i += 1
        if "at" in event and first_after is None and acks[-1] > event["at"]:
            first_after = acks[-1]  # a send after the event, or one straddling it (acked by the new leader)
        if first_after is not None and acks[-1] > event["at"] + 3:
            break
    prod.close()
    new_leader = wait_for(lambda: state()[1] not in (leader, -1) and state()[1], timeout=10)
    window = [t for t in acks if t >= event["at"]]
    gaps = [b - a for a, b in zip([event["at"]] + window, window)]
    return {"how": how, "partitions": partitions, "old_leader": leader, "new_leader": new_leader,
            "event_to_first_ack_ms": round((first_after - event["at"]) * 1000) if first_after else None,
            "max_ack_gap_ms": round(max(gaps) * 1000) if gaps else None,
            "acks_in_3s": len(window)}


def failovers(c, partitions=1):
    """A clean stop of a leader, then (once the stopped broker is back) a kill -9."""
    out = {"stop": failover(c, "failover-stop", "stop", partitions)}
    stopped = out["stop"]["old_leader"]
    c.brokers[stopped].restart()

    def in_sync():
        v = c.view(stopped, ["failover-stop"])
        return v and all(len(s[3]) == 3 for s in v[2]["failover-stop"][1].values())
    wait_for(in_sync, timeout=30)
    out["kill -9"] = failover(c, "failover-kill", "kill -9", partitions)
    return out


def leader_of(c, topic):
    for n, b in c.brokers.items():
        v = b.alive() and c.view(n, [topic])
        if v and topic in v[2] and 0 in v[2][topic][1]:
            return v[2][topic][1][0][1]
    return None


def run_workloads(results, prefix, bench_bin, workloads, with_failover, with_latency):
    admin = "127.0.0.1:%d" % free_port()
    single = Broker(sets={"num.partitions": 1, "runnel.admin.listen": admin}).start()
    try:
        for name, size, records, parts in workloads:
            results[prefix + "single " + name] = bench(bench_bin, single.bootstrap, "single-" + name, size, records,
                                                       parts)
        for n in TXN_PRODUCERS:
            results[prefix + "single txn100 x%d" % n] = txn_blast(bench_bin, single.bootstrap, "single-txn-%d" % n, n)
        if with_latency:
            latency_rows(results, "1 broker", bench_bin, single.bootstrap, "single-latency",
                         results.get(prefix + "single 100B", {}).get("records_per_s"), {1: admin}, 1)
    finally:
        single.cleanup()

    admins = {n: "127.0.0.1:%d" % free_port() for n in (1, 2, 3)}
    c = Cluster(3, sets={"default.replication.factor": 3, "min.insync.replicas": 2},
                node_sets=lambda n: {"runnel.admin.listen": admins[n]}).start()
    try:
        # Created here with three replicas: runnel-bench's own creation asks for one.
        names = [(name, parts) for name, _, _, parts in workloads] + [("txn-%d" % n, 1) for n in TXN_PRODUCERS]
        create_rf3_topics(c, [("rf3-" + name, parts) for name, parts in names])
        for name, size, records, parts in workloads:
            results[prefix + "rf3 " + name] = bench(bench_bin, c.bootstrap, "rf3-" + name, size, records, parts)
        for n in TXN_PRODUCERS:
            results[prefix + "rf3 txn100 x%d" % n] = txn_blast(bench_bin, c.bootstrap, "rf3-txn-%d" % n, n)
        if with_latency:
            create_rf3_topics(c, [("rf3-latency", 1)])
            latency_rows(results, "RF 3", bench_bin, c.bootstrap, "rf3-latency",
                         results.get(prefix + "rf3 100B", {}).get("records_per_s"), admins, leader_of(c, "rf3-latency"))
            if IDLE_PARTITIONS:
                with_idle_partitions(results, c, bench_bin, "rf3-latency", IDLE_PARTITIONS, admins,
                                     leader_of(c, "rf3-latency"))
        if with_failover:
            results["failover"] = failovers(c)
    finally:
        c.cleanup()


def print_latency(results):
    rows = [(k, r) for k, r in results.items() if k.startswith("latency ")]
    if not rows:
        return
    print("latency, 100 B, 1 partition (ms; e2e = send -> consumer receive, ack = produce -> ack):")
    print("%-38s %-40s %10s %8s %8s %8s %8s  %s" % ("row", "load", "rec/s", "e2e p50", "e2e p99", "ack p50",
                                                     "ack p99", "leader's stages p99 <= ms"))
    for k, r in rows:
        if "error" in r and "e2e_latency_p99_ms" not in r:
            print("%-38s failed: %s" % (k[len("latency "):], r["error"]))
            continue
        stages = "wait %s, fdatasync %s, handle %s" % (r.get("broker_produce_wait_p99_ms_le", "-"),
                                                      r.get("broker_fdatasync_p99_ms_le", "-"),
                                                      r.get("broker_produce_handle_p99_ms_le", "-"))
        print("%-38s %-40s %10.0f %8.2f %8.2f %8.2f %8.2f  %s" % (
            k[len("latency "):], r.get("load", ""), r.get("records_per_s", 0), r.get("e2e_latency_p50_ms", 0),
            r.get("e2e_latency_p99_ms", 0), r.get("ack_latency_p50_ms", 0), r.get("ack_latency_p99_ms", 0), stages))
        for n, st in sorted(r.get("stages_by_node", {}).items()):
            if not st.get("leader"):
                # (Its Fetch handling is left out: on a follower it is other partitions' idle long polls.)
                print("%-38s   node %s (follower): fdatasync p50/p99 <= %s/%s ms (%s syncs), flush queue p99 <= %s ms"
                      % ("", n, st.get("fdatasync_p50_ms_le", "-"), st.get("fdatasync_p99_ms_le", "-"),
                         int(st.get("fdatasync_count", 0)), st.get("flush_queue_p99_ms_le", "-")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--records", type=int, default=300000)
    ap.add_argument("--json")
    ap.add_argument("--failover-only", action="store_true",
                    help="only the leader's clean stop and kill -9 on three brokers")
    ap.add_argument("--failover-partitions", type=int, default=1,
                    help="with --failover-only: the topics' partitions (the producer writes to the last)")
    ap.add_argument("--idle-partitions-only", type=int, metavar="N",
                    help="only the light acks=all row on three brokers, alone and with N idle RF 3 partitions")
    args = ap.parse_args()
    runnel = os.environ.get("RUNNEL_BIN", os.path.join(args.build, "runnel"))
    os.environ["RUNNEL_BIN"] = os.path.abspath(runnel)
    bench_bin = os.environ.get("BENCH_BIN", os.path.join(args.build, "runnel-bench"))
    results = {}
    if args.idle_partitions_only is not None:
        admins = {n: "127.0.0.1:%d" % free_port() for n in (1, 2, 3)}
        with Cluster(3, sets={"default.replication.factor": 3, "min.insync.replicas": 2},
                     node_sets=lambda n: {"runnel.admin.listen": admins[n]}) as c:
            create_rf3_topics(c, [("rf3-latency", 1)])
            leader = leader_of(c, "rf3-latency")
            results["latency RF 3 light acks=all"] = latency(bench_bin, c.bootstrap, "rf3-latency", "all",
                                                             LIGHT_RATE, 0, admins.get(leader))
            results["latency RF 3 light acks=all"]["load"] = "light load, %d rec/s" % LIGHT_RATE
            with_idle_partitions(results, c, bench_bin, "rf3-latency", args.idle_partitions_only, admins, leader)
        print_latency(results)
        print_idle_cpu(results)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        return
    if args.failover_only:
        with Cluster(3, sets={"default.replication.factor": 3, "min.insync.replicas": 2}) as c:
            results["failover"] = failovers(c, args.failover_partitions)
        print("failover: %s" % results["failover"])
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        return
    workloads = [("100B", 100, args.records, 1), ("1KiB", 1024, max(args.records // 4, 1000), 16)]

    disk_dir = tempfile.gettempdir()
    results["disk_ceiling"] = ceiling(disk_dir)
    # Disk first (the rows issue 10's target is read from), then memory.
    stores = [("", disk_dir)]
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        stores.append(("memory ", "/dev/shm"))
        results["memory_ceiling"] = ceiling("/dev/shm")
    for prefix, directory in stores:
        tempfile.tempdir = directory  # where Broker, Cluster and etcd make their data dirs
        try:
            run_workloads(results, prefix, bench_bin, workloads, with_failover=not prefix, with_latency=not prefix)
        finally:
            tempfile.tempdir = None
    print("%-21s %12s %10s %10s %10s %8s" % ("workload", "records/s", "MB/s", "p50 ms", "p99 ms", "x 1 node"))
    for k, r in results.items():
        if not isinstance(r, dict) or k == "failover" or k.endswith("_ceiling") or k.startswith("latency "):
            continue
        if "error" in r:
            print("%-14s failed: %s" % (k, r["error"]))
            continue
        one = results.get(k.replace("rf3 ", "single "), {}) if "rf3 " in k else {}
        share = "%.2f" % (r["records_per_s"] / one["records_per_s"]) if one.get("records_per_s") and r.get(
            "records_per_s") else ""
        # txn-blast rows: the latency of a whole transaction (AddPartitionsToTxn, Produce, EndTxn).
        lat = "txn_latency" if "txn_latency_p50_ms" in r else "ack_latency"
        print("%-21s %12.0f %10.1f %10.2f %10.2f %8s" % (k, r.get("records_per_s", 0), r.get("mb_per_s", 0),
                                                         r.get(lat + "_p50_ms", 0), r.get(lat + "_p99_ms", 0), share))
    for store in ("disk", "memory"):
        c = results.get(store + "_ceiling")
        if not c:
            continue
        print("%s ceiling: %s MB/s (best of: %s)" % (store, c["best_mb_per_s"], "; ".join(
            "%s: %s" % kv for kv in c["shapes"].items())))
        prefix = "" if store == "disk" else "memory "
        rf3 = results.get(prefix + "rf3 1KiB", {})
        if rf3.get("mb_per_s"):
            print("  RF 3 at 1 KiB writes 3 x %.1f = %.1f MB/s to it: %.0f%% of the ceiling" % (
                rf3["mb_per_s"], 3 * rf3["mb_per_s"], 300 * rf3["mb_per_s"] / c["best_mb_per_s"]))
    print_latency(results)
    print_idle_cpu(results)
    print("failover: %s" % results.get("failover"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
