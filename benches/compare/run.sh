#!/usr/bin/env bash
# Side by side with the official Node SDK 2.6.0, everything in one run on this machine:
#  1. the core: the same Relay event frames through Node's SDK and through relay-proto, plus
#     relay-proto against plain serde_json::Value parsing of the same frames (core_vs_value);
#  2. the consumers: the Node SDK and relay-tokio answering inbound calls from the same
#     relay-mock, sides alternated (compare.py): calls/s, CPU per call, answer() p50/p99,
#     RSS per held call, and their ratios. The Rust consumer runs twice per round: built
#     with the `release-lto` profile (the "Rust" column) and with plain `release`.
# Usage: bash benches/compare/run.sh [ROUNDS] [FLOW_SIZES] [HOLD_SIZES] [BATCH]
#   e.g. bash benches/compare/run.sh 3 1000,10000 10000
#   BATCH (default 50): calls per inbound_call request, at most 300 calls in progress
#   (compare.py --batch/--window); 0 = the old mode, one request per call from 4 threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
flow="${2:-1000,10000}"
hold="${3:-10000}"
batch="${4:-50}"
frames=benches/compare/frames.jsonl
if [ ! -d relay-mock/interop/node_modules/@signalwire/node ]; then
    (cd relay-mock/interop && npm install --no-audit --no-fund >/dev/null)
fi
cargo build -q --release -p relay-mock --bin relay-mock
cargo build -q --release -p relay-benches --example consumer_load --example compare_events
# The Rust consumer is measured as a production binary is built (profile `release-lto`: fat
# LTO, one codegen unit) and as plain `release`, side by side in the same rounds.
cargo build -q --profile release-lto -p relay-benches --example consumer_load
echo "== machine: $(nproc) cores, $(uname -sr), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "== core: ns per event (Node SDK vs relay-proto) and relay-proto vs plain Value parsing"
node benches/compare/node_events.js "$frames" 200000
target/release/examples/compare_events "$frames" 200000
target/release/examples/compare_events benches/compare/calling_frames.jsonl 200000
echo "== consumers on relay-mock"
python3 benches/compare/compare.py --rounds "$rounds" --flow "$flow" --hold "$hold" --batch "$batch" \
    --consumer target/release-lto/examples/consumer_load \
    --baseline target/release/examples/consumer_load --baseline-name "Rust (release)"
