#!/usr/bin/python3
"""Issue 17's hard workloads, each next to the easy case of the same run.

    bench/hard.py BUILD_DIR [--seconds S] [--json FILE] [--cases easy,wide,idle,backlog,retention,partitions]

The hard cases (after Vanlightly 2023, Kafka vs Redpanda), scaled to a 2-vCPU machine
where the clients share the cores with the broker:

  easy        4 producers + 4 consumers, 16 partitions, keyed 1 KiB records, acks=all
  wide        50 producers + 50 consumers (each its own librdkafka client and thread),
              1,000 partitions, keyed records
  idle        the easy workload again while 10,000 idle connections (each had an
              ApiVersions answered) are open; broker RSS per connection
  backlog     a backlog of --backlog-seconds of unthrottled production (instead of an hour
              of history), its pages dropped from the page cache (fadvise DONTNEED), then 4
              consumers drain it from the start while 4 producers write at 50% of the easy
              maximum; drain rate and the producers' p99 during the drain
  retention   a loop-mounted ext4 image filled to 50% with a filler file, the broker's data
              dir on it, retention.bytes 16 MiB / segment.bytes 4 MiB per partition, so
              segments are deleted all through the run; next to the same workload on the
              same (empty) image without retention
  partitions  10,000 partitions on one broker (100 topics x 100): RSS per partition,
              creation time, start-up time with them, Metadata latency (all topics, one
              topic), and the easy workload with them present

Every load case runs twice: unthrottled for --seconds (throughput: acknowledged records/s),
then at a fixed offered rate of 50% of the easy case's maximum for --seconds (latency:
produce->ack and producer->consumer p99, stamped with the intended send time). Target
(issue 17): every hard case keeps >= 50% of the easy case's throughput and its p99 within
3x of the easy case's.

Needs root for the loop mount (the retention case is skipped otherwise). Every broker and
helper binds to 127.0.0.1 and is stopped at exit; the image is unmounted and removed.
A benchmark is not a test: failures are reported, the exit code is 0.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration", "python"))

from broker import Broker, free_port  # noqa: E402
from disk_floor import sync_trace  # noqa: E402  (bench/, the script's own directory)

CASES = ["easy", "wide", "idle", "backlog", "retention", "partitions"]
RECORD = 1024
EASY = dict(partitions=16, producers=4, consumers=4)
WIDE = dict(partitions=1000, producers=50, consumers=50)


def rss_kb(pid):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def disk_probe(directory, seconds=3.0):
    """4 KiB writes, each followed by fdatasync, for `seconds`: the floor of an acks=all round
    trip on this disk right now (p50/p99 ms, syncs/s). Taken at the start and at the end of the
    run: the disk of a shared VM changes speed from minute to minute."""
    lat = sorted(end - start for start, end in sync_trace(directory, seconds))
    return {"fdatasync_4k_p50_ms": 1000 * lat[len(lat) // 2], "fdatasync_4k_p99_ms": 1000 * lat[int(len(lat) * 0.99)],
            "fdatasync_4k_per_s": len(lat) / seconds, "load": open("/proc/loadavg").read().split()[:3]}


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


SUMS = ("runnel_fdatasync_seconds", "runnel_flush_queue_seconds", "runnel_flush_files")


def scrape_sums(admin):
    """_sum and _count of the flusher's histograms from runnel's /metrics (admin listener)."""
    import urllib.request
    out = {}
    try:
        text = urllib.request.urlopen("http://%s/metrics" % admin, timeout=10).read().decode()
    except Exception:
        return out
    for line in text.splitlines():
        for name in SUMS:
            for suffix in ("_sum", "_count"):
                if line.startswith(name + suffix + " ") or line.startswith(name + suffix + "{"):
                    try:
                        out[name + suffix] = out.get(name + suffix, 0) + float(line.rsplit(" ", 1)[1])
                    except ValueError:
                        pass
    return out


def flusher_figures(before, after, wall):
    """Over one run: fdatasyncs, their mean, how many flusher threads were busy syncing on
    average (sum of fdatasync seconds / wall seconds; the pool has 8), the mean wait for a
    free flusher thread, and files per flush request."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    n = d.get("runnel_fdatasync_seconds_count", 0)
    q = d.get("runnel_flush_queue_seconds_count", 0)
    f = d.get("runnel_flush_files_count", 0)
    return {"fdatasyncs": n,
            "fdatasync_mean_ms": 1000 * d.get("runnel_fdatasync_seconds_sum", 0) / n if n else None,
            "fdatasync_busy_threads": d.get("runnel_fdatasync_seconds_sum", 0) / wall if wall else None,
            "flush_requests": q,
            "flush_queue_mean_ms": 1000 * d.get("runnel_flush_queue_seconds_sum", 0) / q if q else None,
            "files_per_flush": d.get("runnel_flush_files_sum", 0) / f if f else None}


def run_bench(bench_bin, mode, args, timeout):
    cmd = [bench_bin, mode, "--json", "-", "--quiet"] + [str(a) for a in args]
    print("# runnel-bench %s %s" % (mode, " ".join(str(a) for a in args)), file=sys.stderr, flush=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % timeout}
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    try:
        r = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": (out.stderr.strip() or "no output")[-300:]}
    if out.returncode != 0 and "error" not in r:
        r["error"] = out.stderr.strip()[-300:] or "exit %d" % out.returncode
    return r


class Run:
    def __init__(self, args):
        self.args = args
        self.bench = os.environ.get("BENCH_BIN") or os.path.join(args.build, "runnel-bench")
        self.results = {}
        self.rate = None  # the latency phases' offered rate: 50% of the easy maximum

    def mixed(self, broker, topic, shape, rate=0, seconds=None, extra=(), acks="all"):
        """One runnel-bench mixed run; adds the broker's CPU seconds and the wall time."""
        seconds = seconds or self.args.seconds
        a = ["--bootstrap", broker.bootstrap, "--topic", topic, "--partitions", shape["partitions"],
             "--producers", shape["producers"], "--consumers", shape["consumers"], "--record-size", RECORD,
             "--acks", acks, "--duration", seconds] + list(extra)
        if rate:
            a += ["--rate", int(rate)]
        if getattr(broker, "admin", None):
            a += ["--broker-metrics", broker.admin]
        m0 = scrape_sums(broker.admin) if getattr(broker, "admin", None) else {}
        c0, t0 = cpu_s(broker.proc.pid), time.time()
        r = run_bench(self.bench, "mixed", a, timeout=seconds + 240)
        c1 = cpu_s(broker.proc.pid)
        r["wall_s"] = time.time() - t0  # client start-up and the final flush included
        if m0:
            r["flusher"] = flusher_figures(m0, scrape_sums(broker.admin), r["wall_s"])
        if c0 is not None and c1 is not None:
            r["broker_cpu_s"] = c1 - c0
        r["broker_rss_kb"] = rss_kb(broker.proc.pid)
        return r

    def load(self, name, broker, topic, shape):
        """One load case: unthrottled, then at the fixed rate."""
        r = {"max": self.mixed(broker, topic, shape)}
        if self.rate is None and name == "easy" and r["max"].get("records_per_s"):
            self.rate = round(r["max"]["records_per_s"] * self.args.rate_fraction)
        if self.rate:
            r["at_rate"] = self.mixed(broker, topic, shape, rate=self.rate)
        r["shape"] = shape
        self.results[name] = r
        print_case(name, r, self.results.get("easy"))
        return r


def start_broker(sets=None, tmpdir=None):
    admin = "127.0.0.1:%d" % free_port()
    s = {"num.partitions": 1, "runnel.admin.listen": admin}
    s.update(sets or {})
    old = tempfile.tempdir
    tempfile.tempdir = tmpdir
    try:
        b = Broker(sets=s)
    finally:
        tempfile.tempdir = old
    b.start()
    b.admin = admin
    return b


def stop_broker(b):
    try:
        b.stop(30)
    finally:
        shutil.rmtree(b.tmp, ignore_errors=True)


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(case, easy):
    """Throughput ratio, p99 ratios, met/unmet against the easy case."""
    if not easy or "max" not in easy or "max" not in case:
        return {}
    v = {"throughput_ratio": ratio(case["max"].get("records_per_s"), easy["max"].get("records_per_s"))}
    er, cr = easy.get("at_rate", {}), case.get("at_rate", {})
    for k in ("ack", "e2e"):
        v[k + "_p99_ratio"] = ratio(cr.get(k + "_latency_p99_ms"), er.get(k + "_latency_p99_ms"))
    ok = v["throughput_ratio"] is not None and v["throughput_ratio"] >= 0.5
    for k in ("ack", "e2e"):
        x = v[k + "_p99_ratio"]
        ok = ok and x is not None and x <= 3
    v["target"] = "met" if ok else "unmet"
    return v


def fmt(x, spec="%.2f"):
    return spec % x if isinstance(x, (int, float)) else "-"


def print_case(name, r, easy):
    m, l = r.get("max", {}), r.get("at_rate", {})
    print("%-12s max %s rec/s (%s MB/s, consumed %s rec/s)  at %s rec/s: ack p99 %s ms, e2e p99 %s ms%s" % (
        name, fmt(m.get("records_per_s"), "%.0f"), fmt(m.get("mb_per_s"), "%.1f"), fmt(m.get("consumed_per_s"), "%.0f"),
        fmt(l.get("rate_offered"), "%.0f"), fmt(l.get("ack_latency_p99_ms")), fmt(l.get("e2e_latency_p99_ms")),
        "  ERROR %s" % (m.get("error") or l.get("error")) if m.get("error") or l.get("error") else ""),
        file=sys.stderr, flush=True)


# ------------------------------------------------------------------ cases

def case_easy_wide_idle(run, cases):
    b = start_broker(tmpdir=run.args.bench_dir)
    try:
        run.results["broker_rss_idle_kb"] = rss_kb(b.proc.pid)
        run.load("easy", b, "easy", EASY)
        if "wide" in cases:
            run.load("wide", b, "wide", WIDE)
            # What the wide case's cost comes from, unthrottled: 1,000 partitions with the easy
            # case's 4 + 4 clients; 50 + 50 clients on the easy case's 16 partitions; the wide
            # case with acks=1 (no wait for fdatasync).
            run.results["wide_diag"] = {
                "1000 part, 4 prod + 4 cons": run.mixed(b, "wide", dict(WIDE, producers=4, consumers=4)),
                "16 part, 50 prod + 50 cons": run.mixed(b, "easy", dict(EASY, producers=50, consumers=50)),
                "1000 part, 50 prod + 50 cons, acks=1": run.mixed(b, "wide", WIDE, acks="1"),
            }
        if "idle" in cases:
            case_idle(run, b)
        if "backlog" in cases:
            case_backlog(run, b)
    finally:
        stop_broker(b)


class IdleConnections:
    """runnel-bench connections in the background: N idle connections to the broker."""

    def __init__(self, run, b, n):
        self.out = os.path.join(b.tmp, "connections-%d.json" % time.monotonic_ns())
        self.helper = subprocess.Popen([run.bench, "connections", "--bootstrap", b.bootstrap, "--connections", str(n),
                                        "--json", self.out, "--quiet"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not os.path.exists(self.out) and self.helper.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # the broker settles (and the JSON file is complete)
        try:
            self.opened = json.load(open(self.out))
        except (OSError, ValueError):
            self.opened = {"error": "the helper did not report" + (": " + self.helper.stderr.read()
                                                                   if self.helper.poll() is not None else "")}

    def close(self):
        self.helper.send_signal(signal.SIGTERM)
        try:
            self.helper.wait(30)
        except subprocess.TimeoutExpired:
            self.helper.kill()
            self.helper.wait()
        try:
            return json.load(open(self.out))
        except (OSError, ValueError):
            return {}


def case_idle(run, b):
    n = run.args.connections
    res = {}
    # Memory per connection on a fresh broker (one that ran a workload keeps freed memory).
    f = start_broker(tmpdir=run.args.bench_dir)
    try:
        time.sleep(1)
        before = rss_kb(f.proc.pid)
        conns = IdleConnections(run, f, n)
        after = rss_kb(f.proc.pid)
        res["fresh_fds_with"] = len(os.listdir("/proc/%d/fd" % f.proc.pid))
        conns.close()
        time.sleep(1)
        res["fresh_rss_after_close_kb"] = rss_kb(f.proc.pid)
        res["open"] = conns.opened
        res["rss_before_kb"], res["rss_with_kb"] = before, after
        opened = conns.opened.get("opened") or 0
        res["rss_per_connection_kb"] = (after - before) / opened if opened else None
    finally:
        stop_broker(f)
    # The easy load on the broker of the easy case, with the connections open.
    rss0 = rss_kb(b.proc.pid)
    conns = IdleConnections(run, b, n)
    try:
        res["load_open"] = conns.opened
        res["load_rss_before_kb"], res["load_rss_with_kb"] = rss0, rss_kb(b.proc.pid)
        res.update(run.load("idle", b, "easy", EASY))
    finally:
        res["close"] = conns.close()
    run.results["idle"] = res


def drop_cache(path):
    """Drops the (clean: acks=all data is fdatasync'd) page-cache pages of every file under path."""
    n = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                fd = os.open(os.path.join(d, f), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                n += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return n


def case_backlog(run, b):
    res = {}
    shape = dict(EASY, consumers=0)
    res["build"] = run.mixed(b, "backlog", shape, seconds=run.args.backlog_seconds)
    dropped = sum(drop_cache(os.path.join(b.data_dir, d)) for d in os.listdir(b.data_dir)
                  if d.startswith("backlog-"))
    res["page_cache_dropped_bytes"] = dropped
    if run.rate:
        res["drain"] = run.mixed(b, "backlog", EASY, rate=run.rate, seconds=run.args.drain_cap,
                                 extra=["--from-start"])
    run.results["backlog"] = res
    d = res.get("drain", {})
    mb = (d.get("backlog_records") or 0) * RECORD / 1e6
    print("backlog      %s records built (%s MB); drained at %s rec/s (%s MB/s) in %s s while producing at %s rec/s: "
          "ack p99 %s ms%s" % (fmt(d.get("backlog_records"), "%.0f"), fmt(mb, "%.0f"),
                               fmt(d.get("drain_records_per_s"), "%.0f"), fmt(d.get("drain_mb_per_s"), "%.1f"),
                               fmt(d.get("drain_seconds")), fmt(d.get("rate_achieved"), "%.0f"),
                               fmt(d.get("ack_latency_p99_ms")), "  ERROR " + d["error"] if d.get("error") else ""),
          file=sys.stderr, flush=True)


class LoopMount:
    def __init__(self, base, size_gib):
        self.dir = tempfile.mkdtemp(prefix="runnel-hard-loop-", dir=base)
        self.image = os.path.join(self.dir, "disk.img")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        subprocess.run(["truncate", "-s", "%dG" % size_gib, self.image], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["mount", "-o", "loop", self.image, self.mnt], check=True)

    def used(self):
        s = os.statvfs(self.mnt)
        return 1 - s.f_bavail / s.f_blocks

    def fill_to(self, fraction):
        s = os.statvfs(self.mnt)
        want = int(fraction * s.f_blocks * s.f_frsize) - int((s.f_blocks - s.f_bavail) * s.f_frsize)
        if want > 0:
            subprocess.run(["fallocate", "-l", str(want), os.path.join(self.mnt, "filler")], check=True)

    def cleanup(self):
        subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def sample_disk(loop, stop, samples):
    while not stop.is_set():
        samples.append(loop.used())
        time.sleep(0.25)


def case_retention(run):
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4"):
        run.results["retention"] = {"error": "skipped: needs root and mkfs.ext4 for the loop mount"}
        return
    res = {}
    loop = LoopMount(run.args.bench_dir, run.args.image_gib)
    try:
        # Control: the same image, empty, no retention (as much as fits).
        b = start_broker(tmpdir=loop.mnt)
        try:
            res["control"] = {"max": run.mixed(b, "easy", EASY)}
            if run.rate:
                res["control"]["at_rate"] = run.mixed(b, "easy", EASY, rate=run.rate)
            res["control_used_after"] = loop.used()
        finally:
            stop_broker(b)
        loop.fill_to(0.5)
        res["used_before"] = loop.used()
        sets = {"log.retention.bytes": 16 << 20, "log.segment.bytes": 4 << 20,
                "log.retention.check.interval.ms": 500, "log.segment.delete.delay.ms": 0}
        res["sets"] = sets
        b = start_broker(sets=sets, tmpdir=loop.mnt)
        stop, samples = threading.Event(), []
        t = threading.Thread(target=sample_disk, args=(loop, stop, samples))
        t.start()
        try:
            r = run.load("retention", b, "easy", EASY)
            res.update(r)
            res["log_start_offsets_sum"] = log_start_sum(b.bootstrap, "easy", EASY["partitions"])
        finally:
            stop.set()
            t.join()
            stop_broker(b)
        res["used_min"], res["used_max"] = (min(samples), max(samples)) if samples else (None, None)
    except subprocess.CalledProcessError as e:
        res["error"] = str(e)
    finally:
        loop.cleanup()
    run.results["retention"] = res


def log_start_sum(bootstrap, topic, partitions):
    """Records deleted from the front of the topic (sum of log start offsets)."""
    try:
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=bootstrap)
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        s = sum(c.beginning_offsets(tps).values())
        c.close()
        return s
    except Exception as e:  # a benchmark reports what it could not measure
        return "error: %s" % e


def case_partitions(run):
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic
    topics, per = run.args.topics, 100
    res = {"topics": topics, "partitions_per_topic": per}
    b = start_broker(sets={"runnel.max.partitions": 20000}, tmpdir=run.args.bench_dir)
    try:
        time.sleep(1)
        res["rss_idle_kb"] = rss_kb(b.proc.pid)
        t0 = time.time()
        a = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=300000)
        for i in range(0, topics, 10):
            a.create_topics([NewTopic("many-%d" % t, per, 1) for t in range(i, min(topics, i + 10))],
                            timeout_ms=300000)
        a.close()
        res["create_seconds"] = time.time() - t0
        res["rss_created_kb"] = rss_kb(b.proc.pid)
        t0 = time.time()
        p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=50, batch_size=16384,
                          request_timeout_ms=120000)
        fs = [p.send("many-%d" % t, value=b"x" * 100, partition=q) for t in range(topics) for q in range(per)]
        p.flush(300)
        res["write_one_each_failed"] = sum(1 for f in fs if f.exception)
        p.close()
        res["write_one_each_seconds"] = time.time() - t0
        time.sleep(1)
        res["rss_written_kb"] = rss_kb(b.proc.pid)
        n = topics * per
        res["rss_per_partition_kb"] = (res["rss_written_kb"] - res["rss_idle_kb"]) / n
        # Restart: exec -> accepting, and -> the first Metadata listing every partition.
        b.stop(60)
        t0 = time.time()
        b.start()
        res["restart_to_listening_s"] = time.time() - t0
        first = run_bench(run.bench, "metadata", ["--bootstrap", b.bootstrap, "--topic", "many-0", "--repeat", "1"],
                          120)
        res["restart_to_full_metadata_s"] = time.time() - t0
        res["restart_metadata_partitions"] = first.get("partitions")
        time.sleep(1)
        res["rss_restarted_kb"] = rss_kb(b.proc.pid)
        res["metadata"] = run_bench(run.bench, "metadata", ["--bootstrap", b.bootstrap, "--topic", "many-0",
                                                            "--repeat", run.args.metadata_repeat], 300)
        print("partitions   %d partitions: created in %s s, RSS %s KiB/partition, restart %s s (full metadata %s s), "
              "metadata all p50/p99 %s/%s ms, one topic %s/%s ms" % (
                  n, fmt(res["create_seconds"]), fmt(res["rss_per_partition_kb"]), fmt(res["restart_to_listening_s"]),
                  fmt(res["restart_to_full_metadata_s"]), fmt(res["metadata"].get("metadata_all_p50_ms")),
                  fmt(res["metadata"].get("metadata_all_p99_ms")), fmt(res["metadata"].get("metadata_one_p50_ms")),
                  fmt(res["metadata"].get("metadata_one_p99_ms"))), file=sys.stderr, flush=True)
        run.results["partitions"] = res
        res.update(run.load("partitions", b, "easy", EASY))
        res["rss_after_load_kb"] = rss_kb(b.proc.pid)
    finally:
        stop_broker(b)
    run.results["partitions"] = res


# ------------------------------------------------------------------ report

def cpu_col(r):
    """broker/client CPU seconds and wall seconds of a run."""
    return "%s/%s/%s" % (fmt(r.get("broker_cpu_s"), "%.1f"), fmt(r.get("client_cpu_s"), "%.1f"),
                         fmt(r.get("wall_s"), "%.0f"))


ROW = "%-52s %10s %7s %9s %7s %9s %7s %7s  %-16s %s"


def table(results, args):
    easy = results.get("easy")
    rows = []
    names = {"easy": "easy: 4 prod + 4 cons, 16 part",
             "wide": "50 prod + 50 cons, 1,000 part",
             "idle": "easy + %d idle connections" % args.connections,
             "retention": "easy, retention deleting, disk 50% full",
             "partitions": "easy + %d other partitions" % (args.topics * 100)}
    for k, label in names.items():
        r = results.get(k)
        if not r or "max" not in r:
            continue
        v = verdict(r, easy) if k != "easy" else {}
        r["verdict"] = v
        rows.append((label, r, v))
        if k == "wide":
            for dk, d in results.get("wide_diag", {}).items():
                rows.append(("  (diagnostic, max only: %s)" % dk, {"max": d}, verdict({"max": d}, easy)))
        if k == "retention":
            ctl = r.get("control")
            if ctl:
                rows.append(("  (control: same loop image, empty, no retention)", ctl, verdict(ctl, easy)))
    offered = fmt((easy or {}).get("at_rate", {}).get("rate_offered"), "%.0f")
    print("\nHard workloads (issue 17): keyed %d B records, acks=all; max = unthrottled for %.0f s; p99 at %s rec/s "
          "offered (%.0f%% of the easy max) for %.0f s" % (RECORD, args.seconds, offered, 100 * args.rate_fraction,
                                                           args.seconds))
    print(ROW % ("case", "max rec/s", "x easy", "ack p99", "x easy", "e2e p99", "x easy", "target",
                 "cpu s b/c/wall", "(max phase)"))
    for label, r, v in rows:
        m, l = r.get("max", {}), r.get("at_rate", {})
        print(ROW % (label, fmt(m.get("records_per_s"), "%.0f"), fmt(v.get("throughput_ratio")),
                     fmt(l.get("ack_latency_p99_ms"), "%.0f"), fmt(v.get("ack_p99_ratio")),
                     fmt(l.get("e2e_latency_p99_ms"), "%.0f"), fmt(v.get("e2e_p99_ratio")),
                     v.get("target", "") if l else "", cpu_col(m), ""))
        for ph in (m, l):
            if ph.get("error") or ph.get("consume_error"):
                print("    error: %s" % (ph.get("error") or ph.get("consume_error")))
        fl = m.get("flusher")
        if fl and fl.get("fdatasyncs"):
            print("    max phase: %s fdatasyncs (mean %s ms; %s of 8 flusher threads busy on average), flush request "
                  "waited %s ms on average for a thread, %s files per request; %s s wall" % (
                      fmt(fl["fdatasyncs"], "%.0f"), fmt(fl.get("fdatasync_mean_ms")),
                      fmt(fl.get("fdatasync_busy_threads")), fmt(fl.get("flush_queue_mean_ms")),
                      fmt(fl.get("files_per_flush")), fmt(m.get("wall_s"), "%.0f")))
    bl = results.get("backlog", {})
    d = bl.get("drain")
    if d:
        er = (easy or {}).get("at_rate", {})
        thr = ratio(d.get("drain_records_per_s"), (easy or {}).get("max", {}).get("records_per_s"))
        p = ratio(d.get("ack_latency_p99_ms"), er.get("ack_latency_p99_ms"))
        bl["verdict"] = {"drain_ratio": thr, "ack_p99_ratio": p,
                         "target": "met" if thr is not None and thr >= 0.5 and p is not None and p <= 3 else "unmet"}
        print(ROW % ("backlog drain (%.0f MB) while producing at %.0f%%" % (
            d.get("backlog_records", 0) * RECORD / 1e6, 100 * args.rate_fraction),
                     fmt(d.get("drain_records_per_s"), "%.0f"), fmt(thr), fmt(d.get("ack_latency_p99_ms"), "%.0f"),
                     fmt(p), "-", "-", bl["verdict"]["target"], cpu_col(d), "(drain)"))
        print("    drained %s records in %s s (%s MB/s read; %s MB of its pages dropped from the page cache first); "
              "producers achieved %s rec/s of %s offered%s" % (
                  fmt(d.get("backlog_records"), "%.0f"), fmt(d.get("drain_seconds")),
                  fmt(d.get("drain_mb_per_s"), "%.1f"), fmt(bl.get("page_cache_dropped_bytes", 0) / 1e6, "%.0f"),
                  fmt(d.get("rate_achieved"), "%.0f"), fmt(d.get("rate_offered"), "%.0f"),
                  "" if d.get("backlog_drained") else "; NOT DRAINED within the cap"))
        if d.get("error"):
            print("    error: %s" % d["error"])
    ret = results.get("retention", {})
    if ret.get("used_before") is not None:
        print("    retention: disk %.0f%% used before, %s-%s%% during; %s records deleted by retention (log start "
              "offsets at the end)" % (100 * ret["used_before"], fmt(100 * (ret.get("used_min") or 0), "%.0f"),
                                       fmt(100 * (ret.get("used_max") or 0), "%.0f"), ret.get("log_start_offsets_sum")))
    elif ret.get("error"):
        print("    retention: %s" % ret["error"])
    idle = results.get("idle", {})
    if idle.get("open"):
        o = idle["open"]
        print("    idle (fresh broker): %s of %s connections open in %s s (connect + ApiVersions p99 %s ms); "
              "broker RSS %s -> %s KiB = %s KiB per connection, %s KiB after closing; %s descriptors%s" % (
                  o.get("opened"), o.get("asked"), fmt(o.get("open_seconds")),
                  fmt(o.get("connect_and_api_versions_p99_ms")), idle.get("rss_before_kb"), idle.get("rss_with_kb"),
                  fmt(idle.get("rss_per_connection_kb")), idle.get("fresh_rss_after_close_kb"),
                  idle.get("fresh_fds_with"), "; error: " + o["error"] if o.get("error") else ""))
        lo = idle.get("load_open", {})
        print("    idle (under the load): %s open; %s closed by the broker while held%s" % (
            lo.get("opened"), idle.get("close", {}).get("closed_by_broker", "?"),
            "; error: " + lo["error"] if lo.get("error") else ""))
    pa = results.get("partitions", {})
    if pa.get("rss_per_partition_kb") is not None:
        md = pa.get("metadata", {})
        print("    %d partitions: created in %s s, one record each in %s s; RSS %s -> %s KiB = %s KiB per partition "
              "(%s KiB after restart); restart %s s to listening, %s s to a full Metadata answer; Metadata p50/p99: "
              "all topics %s/%s ms, one topic %s/%s ms (%s requests each)" % (
                  pa["topics"] * pa["partitions_per_topic"], fmt(pa.get("create_seconds")),
                  fmt(pa.get("write_one_each_seconds")), pa.get("rss_idle_kb"),
                  pa.get("rss_written_kb"), fmt(pa.get("rss_per_partition_kb")), pa.get("rss_restarted_kb"),
                  fmt(pa.get("restart_to_listening_s")), fmt(pa.get("restart_to_full_metadata_s")),
                  fmt(md.get("metadata_all_p50_ms")), fmt(md.get("metadata_all_p99_ms")),
                  fmt(md.get("metadata_one_p50_ms")), fmt(md.get("metadata_one_p99_ms")), md.get("requests_each")))
    print("    whole run: %s s" % fmt(results.get("seconds"), "%.0f"))
    for k in ("disk_probe_start", "disk_probe_end"):
        p = results.get(k)
        if p:
            print("    disk %s of the run: 4 KiB write + fdatasync p50 %s ms, p99 %s ms, %s/s; load average %s" % (
                k.rsplit("_", 1)[1], fmt(p["fdatasync_4k_p50_ms"]), fmt(p["fdatasync_4k_p99_ms"]),
                fmt(p["fdatasync_4k_per_s"], "%.0f"), " ".join(p["load"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=10, help="length of each load phase")
    ap.add_argument("--backlog-seconds", type=float, default=20, help="unthrottled production that builds the backlog")
    ap.add_argument("--drain-cap", type=float, default=120, help="longest the drain may take")
    ap.add_argument("--rate-fraction", type=float, default=0.5,
                    help="latency phases and the backlog's producers: this fraction of the easy maximum")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--topics", type=int, default=100, help="partitions case: topics of 100 partitions")
    ap.add_argument("--metadata-repeat", type=int, default=200)
    ap.add_argument("--image-gib", type=int, default=8)
    ap.add_argument("--bench-dir", default=os.environ.get("BENCH_DIR", "/var/tmp"))
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--json")
    args = ap.parse_args()
    os.environ["RUNNEL_BIN"] = os.path.abspath(os.environ.get("RUNNEL_BIN", os.path.join(args.build, "runnel")))
    cases = [c for c in args.cases.split(",") if c]
    # A SIGTERM (timeout, run.sh's trap) unwinds like an exception: brokers stopped, image unmounted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run = Run(args)
    t0 = time.time()
    run.results["disk_probe_start"] = disk_probe(args.bench_dir)
    try:
        # The easy case first: every other case is set against it (and its rate).
        case_easy_wide_idle(run, cases)
        if "retention" in cases:
            case_retention(run)
        if "partitions" in cases:
            case_partitions(run)
    finally:
        run.results["seconds"] = time.time() - t0
        run.results["disk_probe_end"] = disk_probe(args.bench_dir)
        table(run.results, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(run.results, f, indent=1)


if __name__ == "__main__":
    main()
