#!/usr/bin/env bash
# Side-by-side: the same Relay event frames pushed through the official Node SDK 2.6.0 and
# through relay-proto, each in one process, on this machine. Prints ns per event for both.
# Usage: bash benches/compare/run.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-200000}"
frames=benches/compare/frames.jsonl
if [ ! -d relay-mock/interop/node_modules/@signalwire/node ]; then
    (cd relay-mock/interop && npm install --no-audit --no-fund >/dev/null)
fi
node benches/compare/node_events.js "$frames" "$n"
cargo run -q --release -p relay-benches --example compare_events -- "$frames" "$n"
