// Pushes the same text frames through the official Node SDK's receive path in-process:
// JSON.parse -> session._onSocketMessage -> BroadcastHandler -> messaging handler -> Message
// object -> the application's callback. Logging is silenced so it measures the SDK, not the
// console. Usage: node node_events.js FRAMES_FILE ITERATIONS
'use strict';
const fs = require('fs');
const path = require('path');
const sdk = path.join(process.env.NODE_SDK_DIR || path.join(__dirname, '../../relay-mock/interop/node_modules'), '@signalwire/node');
const { RelayClient } = require(sdk);
const logger = require(path.join(sdk, 'dist/common/src/util/logger')).default;
const Handler = require(path.join(sdk, 'dist/common/src/services/Handler'));

const [file, iterations] = [process.argv[2], Number(process.argv[3] || 100000)];
const frames = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
const protocol = JSON.parse(frames[0]).params.protocol;

logger.setLevel('silent');
const client = new RelayClient({ project: 'p', token: 't' });
client.relayProtocol = protocol;
let delivered = 0;
Handler.register(protocol, () => { delivered += 1; }, 'messaging.ctxState.office');
Handler.register(protocol, () => { delivered += 1; }, 'messaging.ctxReceive.office');
Handler.register(protocol, () => { delivered += 1; }, 'tasking.ctxReceive.office');

function run(n) {
  for (let i = 0; i < n; i += 1) {
    client._onSocketMessage(JSON.parse(frames[i % frames.length]));
  }
}
run(Math.min(iterations, 20000)); // warm up the JIT
delivered = 0;
const start = process.hrtime.bigint();
run(iterations);
const ns = Number(process.hrtime.bigint() - start);
if (delivered !== iterations) {
  console.error(`expected ${iterations} deliveries, got ${delivered}`);
  process.exit(1);
}
console.log(JSON.stringify({ impl: 'node @signalwire/node 2.6.0', events: iterations, ns_per_event: ns / iterations }));
process.exit(0);
