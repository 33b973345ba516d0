#!/usr/bin/env python3
"""Side by side: the official Node SDK (@signalwire/node 2.6.0) and relay-tokio as consumers on
the same relay-mock, sides alternated in one run (issue 9).

Scenarios (each run starts a fresh relay-mock and a fresh consumer process):
  flow N   every inbound call: answer -> TTS -> hangup; figures: calls/s, consumer CPU per call,
           p50/p99 of the answer() round trip, peak RSS
  hold N   every inbound call answered and kept; figure: RSS per held call

CPU is the consumer process's on-CPU time (its threads' /proc/<pid>/task/*/schedstat, in
nanoseconds) between "ready" and the last call; RSS is VmRSS/VmHWM from /proc/<pid>/status. The mock's own CPU per call is printed
too, so a reader can see whether it was the bottleneck.

Usage: python3 benches/compare/compare.py [--rounds R] [--flow 1000,10000] [--hold 10000]
       [--baseline PATH]   (a consumer_load binary of an older commit: a third side, "before")
       [--baseline-name NAME] (its name in the table; default "Rust before")
       [--consumer PATH]   (the Rust consumer_load to measure; default target/release's)
       [--batch K] [--window W]

Injection (same policy for every side, so both SDKs get the same offered load):
  --batch K (default 50)   calls are created K at a time by one `inbound_call` request with
                           `"count": K`, paced by a window: a batch goes out only while the mock
                           has at most W - K calls not yet done (`active_calls` of
                           GET /__control/health in flow mode, `unanswered_calls` in hold mode),
                           so no SDK ever has more than W calls in progress and injecting costs
                           the mock one HTTP request per K calls
  --window W (default 300) (the Rust consumer's CPU per call grows with the calls in progress:
                           ~80 µs at a few hundred, ~135 µs at 1,000 on the 2-core VM)
  --batch 0                the old mode: one POST per call from 4 threads over keep-alive
                           connections, as fast as the mock answers them (no window)
--instructions             the Rust consumers (and the baseline) run under valgrind's cachegrind
                           and the figure is instructions per call (start-up included): one the
                           machine's speed does not move, for before/after comparisons on a
                           noisy machine (flow scenarios only; no Node side)
(`bash benches/compare/run.sh` builds everything first and runs this.)
"""
import argparse
import http.client
import json
import os
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MOCK = os.path.join(ROOT, "target", "release", "relay-mock")
RUST_CONSUMER = os.path.join(ROOT, "target", "release", "examples", "consumer_load")
NODE_CONSUMER = os.path.join(ROOT, "benches", "compare", "node_consumer.js")
TICK = os.sysconf("SC_CLK_TCK")
# `--baseline PATH`: a consumer_load built from an older commit, run as a third side ("before").
BASELINE = None
# `--instructions`: the Rust sides run under valgrind's cachegrind, which counts the
# instructions they execute: a figure the machine's speed does not move.
INSTRUCTIONS = False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """On-CPU time of the process's threads, in seconds: the sum of their
    /proc/<pid>/task/*/schedstat (nanoseconds). /proc/<pid>/stat's utime+stime count clock
    ticks (10 ms), too coarse for 1,000 calls at ~50 µs each; they are the fallback where
    schedstat is missing. The consumers' and the mock's threads live for the whole run, so no
    thread's time leaves the sum between two readings."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        if total > 0:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def mock_args(port):
    args = [MOCK, "--listen", f"127.0.0.1:{port}"]
    helptext = subprocess.run([MOCK, "--help"], capture_output=True, text=True).stdout
    if "--media-speed" in helptext:
        args += ["--media-speed", "0"]
    # Nothing here reads GET /__control/frames: keep 1,000 frames in memory, not 100,000
    # (copying and holding every frame is ~10% of the mock's CPU per call).
    if "--record-limit" in helptext:
        args += ["--record-limit", "1000"]
    return args


def wait_health(port, deadline=20.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/__control/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("relay-mock did not come up")


def inject(port, n, threads=4):
    """POSTs n inbound calls on context office over keep-alive connections."""
    body = json.dumps({"context": "office", "from": "+15551230001", "to": "+15553210002"})
    work = queue.Queue()
    for _ in range(n):
        work.put(1)
    errors = []

    def worker():
        conn = None
        while True:
            try:
                work.get_nowait()
            except queue.Empty:
                return
            for attempt in range(3):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("POST", "/__control/inbound_call", body,
                                 {"Content-Type": "application/json",
                                  "Connection": "keep-alive"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    if resp.status != 200:
                        errors.append(resp.status)
                    break
                except (OSError, http.client.HTTPException) as e:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if attempt == 2:
                        errors.append(str(e))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} injections failed, first: {errors[0]}")


def health(conn):
    conn.request("GET", "/__control/health", headers={"Connection": "keep-alive"})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"health: HTTP {resp.status}")
    return json.loads(body)


def post_batch(conn, k):
    body = json.dumps({"context": "office", "from": "+15551230001", "to": "+15553210002",
                       "count": k})
    conn.request("POST", "/__control/inbound_call", body,
                 {"Content-Type": "application/json", "Connection": "keep-alive"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"inbound_call count={k}: HTTP {resp.status}")


def inject_batched(port, n, batch, window, mode):
    """Creates n calls, `batch` per request, keeping at most `window` calls in progress: the
    next batch waits until the mock reports at most window - batch active (flow) or unanswered
    (hold) calls. Returns the number of health polls made."""
    key = "unanswered_calls" if mode == "hold" else "active_calls"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = polls = 0
    try:
        while sent < n:
            k = min(batch, n - sent)
            while True:
                h = health(conn)
                polls += 1
                if key not in h:
                    raise RuntimeError(f"this relay-mock has no `{key}` in its health answer")
                if h[key] + k <= max(window, k):
                    break
                time.sleep(0.005)
            post_batch(conn, k)
            sent += k
    finally:
        conn.close()
    return polls


def read_line(proc, prefix, timeout):
    """Waits for a stdout line starting with prefix; returns the rest."""
    out = queue.Queue()

    def pump():
        for line in proc.stdout:
            out.put(line)
        out.put(None)

    if not hasattr(proc, "_pump"):
        proc._q = out
        proc._pump = threading.Thread(target=pump, daemon=True)
        proc._pump.start()
    end = time.time() + timeout
    while True:
        left = end - time.time()
        if left <= 0:
            raise RuntimeError(f"timed out waiting for '{prefix}'")
        try:
            line = proc._q.get(timeout=left)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"consumer exited before '{prefix}'")
        if line.startswith(prefix):
            return line[len(prefix):].strip()


def run_one(side, mode, n, batch=0, window=300):
    port = free_port()
    mock = subprocess.Popen(mock_args(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    consumer = None
    try:
        wait_health(port)
        url = f"ws://127.0.0.1:{port}"
        if side == "node":
            cmd = ["node", NODE_CONSUMER, url, mode, str(n)]
        elif side == "before":
            cmd = [BASELINE, url, mode, str(n)]
        else:
            cmd = [RUST_CONSUMER, url, mode, str(n)]
        counted = INSTRUCTIONS and side != "node"
        log = None
        if counted:
            # Counts the instructions the consumer executes, start-up and shutdown included
            # (a few percent of a 1,000-call run); its CPU figures mean nothing then.
            log = tempfile.NamedTemporaryFile(prefix="cachegrind", suffix=".log", delete=False)
            cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no",
                   "--cachegrind-out-file=/dev/null", f"--log-file={log.name}"] + cmd
        t_start = time.time()
        consumer = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True, env=dict(os.environ, RUST_LOG="off", DEBUG=""))
        read_line(consumer, "ready", 30)
        ready_s = time.time() - t_start
        cpu0, mock_cpu0 = cpu_seconds(consumer.pid), cpu_seconds(mock.pid)
        rss0 = status_kb(consumer.pid, "VmRSS")
        t0 = time.time()
        if batch > 0:
            inject_batched(port, n, batch, window, mode)
        else:
            inject(port, n)
        tag = "held " if mode == "hold" else "done "
        figures = json.loads(read_line(consumer, tag, 60 + n / 20))
        wall = time.time() - t0
        cpu1, mock_cpu1 = cpu_seconds(consumer.pid), cpu_seconds(mock.pid)
        rss1 = status_kb(consumer.pid, "VmRSS")
        peak = status_kb(consumer.pid, "VmHWM")
        instructions = 0.0
        if counted:
            # A clean exit (the consumer stops on SIGINT) makes valgrind write its summary.
            consumer.send_signal(signal.SIGINT)
            consumer.wait(120)
            with open(log.name) as f:
                m = re.search(r"I\s+refs:\s+([\d,]+)", f.read())
            os.unlink(log.name)
            instructions = int(m.group(1).replace(",", "")) / n if m else 0.0
        return {
            "instructions_per_call": instructions,
            "calls_per_s": n / wall,
            "cpu_us_per_call": (cpu1 - cpu0) / n * 1e6,
            "mock_cpu_us_per_call": (mock_cpu1 - mock_cpu0) / n * 1e6,
            "p50_ms": figures["p50_ms"],
            "p99_ms": figures["p99_ms"],
            "failed": figures["failed"],
            "rss_kb_per_call": (rss1 - rss0) / n,
            "peak_rss_mb": peak / 1024,
            "ready_ms": ready_s * 1000,
        }
    finally:
        for p in (consumer, mock):
            if p is not None:
                p.kill()
                p.wait()


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--flow", default="1000,10000")
    ap.add_argument("--hold", default="10000")
    ap.add_argument("--baseline", help="consumer_load binary of an older commit (before/after)")
    ap.add_argument("--baseline-name", default="Rust before",
                    help="the baseline's column name (e.g. another build profile of this commit)")
    ap.add_argument("--consumer", help="the Rust consumer_load binary to measure "
                                       "(default: target/release/examples/consumer_load)")
    ap.add_argument("--batch", type=int, default=50,
                    help="calls per inbound_call request (0: one request per call, 4 threads)")
    ap.add_argument("--window", type=int, default=300,
                    help="most calls in progress when batching")
    ap.add_argument("--instructions", action="store_true",
                    help="count the Rust consumers' instructions per call under valgrind "
                         "(flow scenarios only, no Node side)")
    a = ap.parse_args()
    global BASELINE, INSTRUCTIONS, RUST_CONSUMER
    BASELINE = a.baseline
    if a.consumer:
        RUST_CONSUMER = os.path.abspath(a.consumer)
    INSTRUCTIONS = a.instructions
    if INSTRUCTIONS:
        return instructions_table(a)
    if a.batch > 0:
        print(f"injection: {a.batch} calls per inbound_call request, at most {a.window} calls "
              "in progress", flush=True)
    else:
        print("injection: one inbound_call request per call, 4 threads", flush=True)
    scenarios = [("flow", int(x)) for x in a.flow.split(",") if x] + \
                [("hold", int(x)) for x in a.hold.split(",") if x]
    results = {}
    for r in range(a.rounds):
        for mode, n in scenarios:
            sides = ["rust", "node"] + (["before"] if BASELINE else [])
            if r % 2:
                sides.reverse()
            for side in sides:
                res = run_one(side, mode, n, a.batch, a.window)
                results.setdefault((mode, n, side), []).append(res)
                print(f"round {r + 1} {mode} {n} {side}: "
                      + ", ".join(f"{k}={v:.2f}" for k, v in res.items()), flush=True)
    print()
    keys = {
        "flow": ["calls_per_s", "cpu_us_per_call", "p50_ms", "p99_ms", "peak_rss_mb", "ready_ms",
                 "mock_cpu_us_per_call", "failed"],
        "hold": ["rss_kb_per_call", "peak_rss_mb", "p50_ms", "p99_ms", "failed"],
    }
    head = f"| scenario | figure (median of {a.rounds}) | Rust | Node | Rust/Node |"
    rule = "|---|---|---:|---:|---:|"
    if BASELINE:
        head += f" {a.baseline_name} | {a.baseline_name}/Node | Rust/{a.baseline_name} |"
        rule += "---:|---:|---:|"
    print(head)
    print(rule)
    for mode, n in scenarios:
        for k in keys[mode]:
            rust, node = median(results[(mode, n, "rust")], k), median(results[(mode, n, "node")], k)
            ratio = f"{rust / node:.3f}" if node else "-"
            row = f"| {mode} {n} | {k} | {rust:.2f} | {node:.2f} | {ratio} |"
            if BASELINE:
                before = median(results[(mode, n, "before")], k)
                vs_node = f"{before / node:.3f}" if node else "-"
                vs_before = f"{rust / before:.3f}" if before else "-"
                row += f" {before:.2f} | {vs_node} | {vs_before} |"
            print(row)
    return 0


def instructions_table(a):
    """`--instructions`: the Rust consumer (and the baseline) alternated, flow scenarios only;
    instructions per call, start-up included, medians."""
    sizes = [int(x) for x in a.flow.split(",") if x]
    sides = ["rust"] + (["before"] if BASELINE else [])
    results = {}
    for r in range(a.rounds):
        for n in sizes:
            for side in (sides if r % 2 == 0 else sides[::-1]):
                res = run_one(side, "flow", n, a.batch, a.window)
                results.setdefault((n, side), []).append(res)
                print(f"round {r + 1} flow {n} {side}: instructions per call "
                      f"{res['instructions_per_call']:.0f}", flush=True)
    print()
    print(f"| scenario | instructions per call (median of {a.rounds}) | Rust |"
          + (f" {a.baseline_name} | Rust/{a.baseline_name} |" if BASELINE else ""))
    print("|---|---|---:|" + ("---:|---:|" if BASELINE else ""))
    for n in sizes:
        rust = median(results[(n, "rust")], "instructions_per_call")
        row = f"| flow {n} | answer -> TTS -> hangup | {rust:.0f} |"
        if BASELINE:
            before = median(results[(n, "before")], "instructions_per_call")
            row += f" {before:.0f} | {rust / before:.3f} |" if before else f" {before:.0f} | - |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
