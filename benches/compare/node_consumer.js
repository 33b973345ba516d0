'use strict';
// Load consumer on the official Node SDK (@signalwire/node 2.6.0), the Node side of compare.py.
// Usage: node node_consumer.js WS_URL MODE N
//   MODE flow: answer -> playTTS -> hangup for every inbound call; prints "done" after N calls.
//   MODE hold: answer every inbound call and keep it; prints "held" after N answered calls.
// Prints "ready" once the consumer receives on its context, then one JSON line of figures.
const path = require('path');
const { RelayConsumer } = require(path.join(__dirname, '../../relay-mock/interop/node_modules/@signalwire/node'));

const [url, mode, nArg] = process.argv.slice(2);
const n = Number(nArg);
const latencies = []; // ms of each answer() round trip
let finished = 0;
let failed = 0;

function report(tag) {
  latencies.sort((a, b) => a - b);
  const pick = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : 0);
  process.stdout.write(`${tag} ${JSON.stringify({ calls: finished, failed, p50_ms: pick(0.5), p99_ms: pick(0.99) })}\n`);
}

function one() {
  finished += 1;
  if (finished === n) report(mode === 'hold' ? 'held' : 'done');
}

const consumer = new RelayConsumer({
  host: url,
  project: 'test-project',
  token: 'test-token',
  contexts: ['office'],
  ready() {
    process.stdout.write('ready\n');
  },
  async onIncomingCall(call) {
    try {
      const t0 = process.hrtime.bigint();
      const answered = await call.answer();
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!answered.successful) failed += 1;
      if (mode === 'flow') {
        await call.playTTS({ text: 'Welcome' });
        await call.hangup();
      }
    } catch (e) {
      failed += 1;
    }
    one();
  },
});
// The SDK logs every frame at debug level; keep it quiet.
process.env.DEBUG = '';
consumer.run();
