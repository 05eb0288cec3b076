#!/usr/bin/env python3
"""Refuses an #include that runs upward in runnel's layering.

Every folder under src/ is a layer; a file may include headers of its own
layer and of the layers below it, never of one above. The build runs this
(CMakeLists.txt, target check_layers) and fails on any wrong-way include,
naming the file, the line and the rule it breaks.

Unit tests are held to the same rule: tests/unit/<layer>/ counts as <layer>,
so a layer's tests use nothing above it (CMake links them to that layer's
library alone).

Usage: check_layers.py [--unit-tests DIR] [--stamp FILE] SRC_DIR
"""
import argparse
import pathlib
import re
import sys

# Lowest first. A layer may include itself and anything earlier in the list.
LAYERS = [
    "base",  # types, errors, crc, clocks: depends on nothing of ours
    "protocol",  # the Kafka wire format and record batches
    "storage",  # segments, indexes, the partition log, Env
    "config",  # the broker's and topics' configuration values (no parsing of files or flags)
    "security",  # SCRAM, SASL, the credential store, the connection's session
    "runtime",  # the shard-per-core runtime: Shard, ShardSet, on_shard()
    "cluster",  # partitions, topic catalogue, control plane, replication
    "group",  # the group coordinator
    "txn",  # the transaction coordinator
    "kafka",  # the Broker and the request handlers
    "server",  # the listener and connections
    "admin",  # the admin HTTP listener: /metrics, health
    "app",  # command line, config files, the admin commands, main()
]

# cluster/ has subfolders with an order of their own, lowest first; the files
# directly in cluster/ come last (the "cluster" entry).
CLUSTER_SUBLAYERS = ["cluster/etcd", "cluster/metadata", "cluster/controller", "cluster/replication", "cluster"]

# Known wrong-way includes that need a redesign, not a move. Each is
# (including file, included header): keep this list short and say why.
ALLOWED = set()  # none at present

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """The layer of a path relative to src/, or None for an unknown folder."""
    top = rel.split("/", 1)[0]
    return top if top in LAYERS else None


def sublayer_of(rel):
    parts = rel.split("/")
    if parts[0] != "cluster":
        return None
    if len(parts) > 2 and "cluster/" + parts[1] in CLUSTER_SUBLAYERS:
        return "cluster/" + parts[1]
    return "cluster"


def order(names):
    return " < ".join(names)


def check(root, shown, is_src):
    """Checks the .h/.cc files under `root`, shown in messages as `shown`/...

    Under src/ a file's layer is its top folder; under tests/unit/ too, but a
    folder that is not a layer is no error there (test helpers, fixtures)."""
    errors = []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".h", ".cc") and p.is_file())
    for path in files:
        rel = path.relative_to(root).as_posix()
        if "/" not in rel:
            continue
        mine = layer_of(rel)
        if mine is None:
            if is_src:
                errors.append(f"{shown}/{rel}: folder {shown}/{rel.split('/')[0]}/ is not a known layer; "
                              f"give it a place in LAYERS in tools/check_layers.py")
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            theirs = layer_of(inc)
            if theirs is None:
                continue  # not one of our folders (a sibling header, a test helper)
            if is_src and (rel, inc) in ALLOWED:
                continue
            where = f"{shown}/{rel}:{number}"
            if LAYERS.index(theirs) > LAYERS.index(mine):
                errors.append(f'{where}: #include "{inc}" runs upward: {mine}/ may not include {theirs}/ '
                              f"(layers, lowest first: {order(LAYERS)})")
            elif is_src and mine == theirs == "cluster":
                a, b = sublayer_of(rel), sublayer_of(inc)
                if CLUSTER_SUBLAYERS.index(b) > CLUSTER_SUBLAYERS.index(a):
                    errors.append(f'{where}: #include "{inc}" runs upward: {a}/ may not include {b}/ '
                                  f"(inside cluster/, lowest first: {order(CLUSTER_SUBLAYERS)}, "
                                  f"where cluster means the files directly in src/cluster/)")
    return errors


def main():
    parser = argparse.ArgumentParser(description="Refuses an #include that runs upward in runnel's layering.")
    parser.add_argument("src", type=pathlib.Path, help="the src/ directory")
    parser.add_argument("--unit-tests", type=pathlib.Path, help="tests/unit/, checked as tests/unit/<layer>/")
    parser.add_argument("--stamp", type=pathlib.Path, help="touched when everything is in order")
    args = parser.parse_args()
    errors = check(args.src.resolve(), "src", True)
    if args.unit_tests:
        errors += check(args.unit_tests.resolve(), "tests/unit", False)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        print(f"check_layers: {len(errors)} problem(s) with the layering; see tools/check_layers.py", file=sys.stderr)
        return 1
    if args.stamp:
        args.stamp.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
