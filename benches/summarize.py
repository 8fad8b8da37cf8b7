#!/usr/bin/env python3
"""Prints the criterion results of `cargo bench -p ws13-benches` as Markdown
tables (median estimates): GB/s for byte throughput, messages/s and GB/s for
the receive and send paths, µs per operation for the handshake.

    python3 benches/summarize.py [CRITERION_DIR]   # default $CARGO_TARGET_DIR/criterion
"""

import json
import os
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "criterion")


def load(base):
    rows = []
    for dirpath, _, files in os.walk(base):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
        est = json.load(open(os.path.join(dirpath, "estimates.json")))
        rows.append((bench, est["median"]["point_estimate"]))
    return rows


def size_of(group):
    for part in group.split("/"):
        if part.endswith("B") and part[:-1].isdigit():
            return int(part[:-1])
    return None


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    tables = defaultdict(dict)  # group -> {(column) -> text}
    columns = defaultdict(list)
    rows_of = defaultdict(list)
    for bench, ns in load(base):
        group = bench["group_id"]
        func = bench.get("function_id") or ""
        value = bench.get("value_str") or ""
        thr = bench.get("throughput") or {}
        kind = group.split("/")[0]
        if kind in ("mask", "utf8", "deflate"):
            row, col = f"{group} {value} B", func
            text = f"{thr['Bytes'] / ns:.2f}" if "Bytes" in thr else f"{ns:.0f} ns"
        elif kind in ("receive", "send"):
            row, col = group, value or func
            n = thr.get("Elements", 1)
            rate = n / ns * 1e3  # million messages per second
            size = size_of(group) or 0
            text = f"{rate:.2f} M/s" + (f", {rate * size / 1e3:.2f} GB/s" if size >= 1024 else "")
        else:
            row, col = group, value or func
            text = f"{ns / 1e3:.2f} µs"
        tables[kind][(row, col)] = text
        if col not in columns[kind]:
            columns[kind].append(col)
        if row not in rows_of[kind]:
            rows_of[kind].append(row)
    units = {"mask": "GB/s", "utf8": "GB/s", "deflate": "GB/s of uncompressed text",
             "receive": "million messages/s, GB/s of payload", "send": "million messages/s, GB/s of payload",
             "handshake": "µs per handshake"}
    for kind in ["mask", "utf8", "receive", "send", "handshake", "deflate"]:
        if kind not in tables:
            continue
        cols = columns[kind]
        print(f"### {kind} ({units[kind]})\n")
        print("| | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))

        def key(r):
            return (r.split("/")[:-2], size_of(r) or 0, r)

        rows = rows_of[kind]
        if kind in ("receive", "send"):
            rows = sorted(rows, key=key)
        elif kind in ("mask", "utf8", "deflate"):
            rows = sorted(rows, key=lambda r: (r.split(" ")[0], int(r.split(" ")[1])))
        for row in rows:
            print(f"| {row} | " + " | ".join(tables[kind].get((row, c), "") for c in cols) + " |")
        print()


if __name__ == "__main__":
    main()
