#!/usr/bin/env python3
"""Folds a dhat-heap.json (written by `benches/examples/held_memory.rs`) by allocation site:
for every allocation point, the first frame of its call stack that is in this workspace's
crates (relay-proto, relay-client, relay-tokio), with the library frame just above it when the
allocation happened inside a dependency (tungstenite, serde_json, ...).

Usage: python3 benches/compare/dhat_sites.py dhat-heap.json N [--live] [--top K]
  N       calls the run made (figures are per call)
  --live  what was still allocated at the end of the run (held calls) instead of every
          allocation made (a flow run's per-call churn)

Build with line tables so the frames carry file names:
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p relay-benches --example held_memory
"""
import argparse
import collections
import json
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CRATES = ["relay-proto", "relay-client", "relay-tokio"]
LIBRARIES = re.compile(r"(tungstenite|serde_json|futures-|hashbrown|tokio-1)")
FRAME = re.compile(r"^0x[0-9a-f]+: (.*) \(((.*?):\d+):\d+\)$")


def own_files():
    files = set()
    for crate in CRATES:
        base = os.path.join(ROOT, crate)
        for d, _, names in os.walk(os.path.join(base, "src")):
            for n in names:
                if n.endswith(".rs"):
                    # Frames name a file from its crate's root or from the workspace's.
                    files.add(os.path.relpath(os.path.join(d, n), base))
                    files.add(os.path.relpath(os.path.join(d, n), ROOT))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("calls", type=int)
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    own = own_files()
    with open(a.profile) as f:
        d = json.load(f)
    table = d["ftbl"]
    blocks = collections.Counter()
    size = collections.Counter()
    for pp in d["pps"]:
        count, nbytes = (pp["ebk"], pp["eb"]) if a.live else (pp["tbk"], pp["tb"])
        if not count:
            continue
        site, library = None, None
        for i in pp["fs"]:
            m = FRAME.match(table[i])
            if not m:
                continue
            func, loc, path = m.group(1), m.group(2), m.group(3)
            if path in own:
                site = f"{func[:50]} @ {loc}"
                break
            if library is None and LIBRARIES.search(path):
                library = re.sub(r"^.*?/?([\w-]+-\d[\d.]*)/", r"\1/", path)
        key = (site or "(outside the workspace)") + (f"  [in {library}]" if library else "")
        blocks[key] += count
        size[key] += nbytes
    n = max(a.calls, 1)
    what = "still allocated" if a.live else "allocations made"
    print(f"{what} per call: {sum(blocks.values()) / n:.2f} blocks, "
          f"{sum(size.values()) / n:.1f} bytes")
    for key, count in blocks.most_common(a.top):
        print(f"{count / n:8.2f} blocks {size[key] / n:9.1f} B  {key}")


if __name__ == "__main__":
    main()
