#!/usr/bin/env python3
"""Linearity (issue 9): N calls (default 100,000) answer -> TTS -> hangup through ONE relay-tokio
consumer process on a separate relay-mock process, injected in batches of 1,000 (each batch once
the previous one finished, so the consumer never holds more than 1,000 calls). The consumer's
RSS is sampled before the first call, after every 10,000 calls and a few seconds after the last;
its CPU per call is printed for each 10,000-call slice. Flat memory: RSS after the run is close
to RSS after the first slice, whatever N is.

Usage: python3 benches/compare/linear.py [N]   (after
`cargo build --release -p relay-mock --bin relay-mock -p relay-benches --example consumer_load`)
"""
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import compare  # noqa: E402

BATCH = 1000


def inject_batch(port, n):
    body = json.dumps({"context": "office", "from": "+15551230001", "to": "+15553210002",
                       "count": n})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/__control/inbound_call", body, {"Content-Type": "application/json"})
    resp = c.getresponse()
    resp.read()
    c.close()
    if resp.status != 200:
        raise RuntimeError(f"inbound_call count={n}: HTTP {resp.status}")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    port = compare.free_port()
    mock = subprocess.Popen(compare.mock_args(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    consumer = None
    try:
        compare.wait_health(port)
        consumer = subprocess.Popen(
            [compare.RUST_CONSUMER, f"ws://127.0.0.1:{port}", "flow", str(n)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=dict(os.environ, RUST_LOG="off"))
        compare.read_line(consumer, "ready", 30)
        pid = consumer.pid
        rss = lambda: compare.status_kb(pid, "VmRSS")  # noqa: E731
        print(f"{'calls':>8} {'RSS KB':>8} {'CPU us/call (slice)':>20} {'calls/s (slice)':>16}")
        print(f"{0:>8} {rss():>8}")
        done = 0
        cpu0, t0 = compare.cpu_seconds(pid), time.time()
        while done < n:
            k = min(BATCH, n - done)
            inject_batch(port, k)
            done += k
            if done == n:
                figures = compare.read_line(consumer, "done ", 120)
            else:
                compare.read_line(consumer, f"progress {done}", 120)
            if done % 10_000 == 0 or done == n:
                cpu1, t1 = compare.cpu_seconds(pid), time.time()
                slice_n = done % 10_000 or 10_000
                print(f"{done:>8} {rss():>8} {(cpu1 - cpu0) / slice_n * 1e6:>20.1f} "
                      f"{slice_n / (t1 - t0):>16.0f}", flush=True)
                cpu0, t0 = cpu1, t1
        print(f"consumer: {figures}")
        time.sleep(3)
        print(f"3 s after the last call: RSS {rss()} KB, peak (VmHWM) "
              f"{compare.status_kb(pid, 'VmHWM')} KB")
    finally:
        for p in (consumer, mock):
            if p is not None:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
