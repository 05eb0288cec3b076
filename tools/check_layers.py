#!/usr/bin/env python3
"""Refuses an #include that runs upward in runnel's layering.

Every folder under src/ is a layer; a file may include headers of its own
layer and of the layers below it, never of one above. The build runs this
(CMakeLists.txt, target check_layers) and fails on the first wrong-way include
with the file, the line and the rule it breaks.

Usage: check_layers.py SRC_DIR [STAMP_FILE]
"""
import pathlib
import re
import sys

# Lowest first. A layer may include itself and anything earlier in the list.
LAYERS = [
    "base",  # types, errors, crc, clocks: depends on nothing of ours
    "protocol",  # the Kafka wire format and record batches
    "storage",  # segments, indexes, the partition log, Env
    "config",  # the broker's and topics' configuration values (no parsing of files or flags)
    "runtime",  # the shard-per-core runtime: Shard, ShardSet, on_shard()
    "cluster",  # partitions, topic catalogue, control plane, replication
    "group",  # the group coordinator
    "kafka",  # the Broker and the request handlers
    "server",  # the listener and connections
    "app",  # command line, config files, the admin commands, main()
]

# cluster/ has subfolders with an order of their own, lowest first; the files
# directly in cluster/ come last (the "cluster" entry).
CLUSTER_SUBLAYERS = ["cluster/etcd", "cluster/metadata", "cluster/controller", "cluster/replication", "cluster"]

# Known wrong-way includes that need a redesign, not a move. Each is
# (including file, included header): keep this list short and say why.
ALLOWED = {
    # The follower's fetcher appends to and truncates a cluster::Partition;
    # Partition in turn holds replication/leader_state.h. Breaking this needs
    # an interface owned by replication/ that Partition implements.
    ("cluster/replication/replica_fetcher.h", "cluster/partition.h"),
}

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


def check(src):
    errors = []
    files = sorted(p for p in src.rglob("*") if p.suffix in (".h", ".cc") and p.is_file())
    for path in files:
        rel = path.relative_to(src).as_posix()
        if "/" not in rel:
            continue
        mine = layer_of(rel)
        if mine is None:
            errors.append(f"src/{rel}: folder src/{rel.split('/')[0]}/ is not a known layer; add it to {__file__}")
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            theirs = layer_of(inc)
            if theirs is None:
                continue  # not one of our folders (a sibling header, a generated file's own path)
            if (rel, inc) in ALLOWED:
                continue
            where = f"src/{rel}:{number}"
            if LAYERS.index(theirs) > LAYERS.index(mine):
                errors.append(f'{where}: #include "{inc}" runs upward: {mine}/ may not include {theirs}/ '
                              f"(layers, lowest first: {order(LAYERS)})")
            elif mine == theirs == "cluster":
                a, b = sublayer_of(rel), sublayer_of(inc)
                if CLUSTER_SUBLAYERS.index(b) > CLUSTER_SUBLAYERS.index(a):
                    errors.append(f'{where}: #include "{inc}" runs upward: {a}/ may not include {b}/ '
                                  f"(inside cluster/, lowest first: {order(CLUSTER_SUBLAYERS)}, "
                                  f"where cluster means the files directly in src/cluster/)")
    return errors


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    errors = check(pathlib.Path(sys.argv[1]).resolve())
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        print(f"check_layers: {len(errors)} problem(s) with the layering; see tools/check_layers.py", file=sys.stderr)
        return 1
    if len(sys.argv) == 3:
        pathlib.Path(sys.argv[2]).touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
