#!/usr/bin/env python3
"""Memory per held call by layer (issue 9): runs examples/held_memory (a relay-tokio consumer
under dhat's counting allocator) against a fresh relay-mock, holds N answered calls, and folds
the blocks still allocated at that point (dhat's end-of-run blocks) by the code that made them.

With `flow` it also folds every allocation the run made (dhat's totals), per call.

Usage: python3 benches/compare/held_memory.py [N] [flow]   (after
`cargo build --release -p relay-mock --bin relay-mock -p relay-benches --example held_memory`)
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import compare  # noqa: E402

# HELD_MEMORY_BIN / RELAY_MOCK_BIN: other builds (e.g. a copy of the old binaries, for a
# before/after table from one script).
HELD = os.environ.get("HELD_MEMORY_BIN") or os.path.join(
    compare.ROOT, "target", "release", "examples", "held_memory")
compare.MOCK = os.environ.get("RELAY_MOCK_BIN") or compare.MOCK

# First matching frame, walking out from the allocation site, names the layer.
LAYERS = [
    ("held_memory::", "the bench's own Vec of held handles"),
    ("relay_proto::calling", "relay-proto: call registry (Session)"),
    ("relay_proto::", "relay-proto: session, other"),
    ("relay_client::live", "relay-client: CallCell / CallCells (live.rs)"),
    ("relay_client::call::", "relay-client: Call handle (call.rs)"),
    ("relay_client::driver", "relay-client: driver / router (driver/*)"),
    ("relay_client::delivery", "relay-client: delivery (channels, inbox)"),
    ("relay_client::consumer", "relay-client: consumer dispatch / handler tasks"),
    ("relay_client::", "relay-client: other"),
    ("tungstenite", "WebSocket (tungstenite) buffers"),
    ("relay_tokio", "relay-tokio adapter"),
    ("tokio::", "tokio runtime"),
]


def layer_of(frames):
    for f in frames:
        for pat, name in LAYERS:
            if pat in f:
                return name, f
    return "other", frames[0] if frames else "?"


def fold(path, n, made=False):
    """Folds the blocks still allocated at the end (`made`: every allocation made in the run
    instead, dhat's totals) by layer and by site (function and file:line)."""
    with open(path) as f:
        d = json.load(f)
    ftbl = d["ftbl"]
    nbytes, nblocks = ("tb", "tbk") if made else ("eb", "ebk")
    by_layer = collections.defaultdict(lambda: [0, 0])
    by_site = collections.defaultdict(lambda: [0, 0])
    for pp in d["pps"]:
        if not pp.get(nblocks):
            continue
        frames = [ftbl[i] for i in pp["fs"]]
        layer, site = layer_of(frames)
        by_layer[layer][0] += pp[nbytes]
        by_layer[layer][1] += pp[nblocks]
        short = site.split(": ", 1)[-1]
        by_site[(layer, short)][0] += pp[nbytes]
        by_site[(layer, short)][1] += pp[nblocks]
    what = "made" if made else "still allocated"
    per = "call" if made else "held call"
    print(f"| layer | bytes per {per} | allocations per {per} |")
    print(f"|---|---:|---:|")
    for layer, (b, k) in sorted(by_layer.items(), key=lambda kv: -kv[1][1 if made else 0]):
        print(f"| {layer} | {b / n:.0f} | {k / n:.2f} |")
    total_b = sum(v[0] for v in by_layer.values())
    total_k = sum(v[1] for v in by_layer.values())
    print(f"| **total {what}** | **{total_b / n:.0f}** | **{total_k / n:.2f}** |")
    print()
    print(f"Largest allocation sites (by {'count' if made else 'bytes'}):")
    ranked = sorted(by_site.items(), key=lambda kv: -kv[1][1 if made else 0])
    for (layer, site), (b, k) in ranked[:30]:
        print(f"  {b / n:7.0f} B {k / n:5.2f} allocs  {layer}: {site}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    extra = sys.argv[2:3]  # "flow": what stays after N answer -> TTS -> hangup calls ended
    port = compare.free_port()
    mock = subprocess.Popen(compare.mock_args(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="held_memory")
    consumer = None
    try:
        compare.wait_health(port)
        consumer = subprocess.Popen([HELD, f"ws://127.0.0.1:{port}", str(n)] + extra, cwd=tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True, env=dict(os.environ, RUST_LOG="off"))
        compare.read_line(consumer, "ready", 30)
        rss0 = compare.status_kb(consumer.pid, "VmRSS")
        compare.inject(port, n)
        figures = compare.read_line(consumer, "held ", 120 + n / 10)
        rss1 = compare.status_kb(consumer.pid, "VmRSS")
        failures = compare.read_line(consumer, "failed ", 60)
        compare.read_line(consumer, "profile written", 120)
        print(f"held {n} calls: {figures}; failed {failures}")
        print(f"RSS per held call (dhat's own bookkeeping included): {(rss1 - rss0) / n:.2f} KB")
        fold(os.path.join(tmp, "dhat-heap.json"), n)
        if extra:
            # A flow run: what every call allocated on its way (the per-call churn).
            print()
            fold(os.path.join(tmp, "dhat-heap.json"), n, made=True)
    finally:
        for p in (consumer, mock):
            if p is not None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
