'use strict';
// (b) A RelayClient dials out, prompts for digits, records, connects to a second phone, hangs up,
// and sends an SMS whose state changes a RelayConsumer on the message context observes.

const c = require('./common');

c.quietSdk();
const { RelayClient, RelayConsumer } = require('@signalwire/node');

const FROM = '+15550000001';
const TO = '+15550000002';
const PEER = '+15550000003';

async function main() {
  const client = new RelayClient({ host: c.WS_URL, project: c.PROJECT, token: c.TOKEN });
  const clientReady = c.deferred();
  client.on('signalwire.ready', () => clientReady.resolve());
  client.on('signalwire.error', (err) => clientReady.reject(err));

  const states = [];
  const delivered = c.deferred();
  const watcherReady = c.deferred();
  const watcher = new RelayConsumer({
    host: c.WS_URL,
    project: c.PROJECT,
    token: c.TOKEN,
    contexts: ['messages'],
    ready() {
      watcherReady.resolve();
    },
    onMessageStateChange(message) {
      states.push(message.state);
      if (message.state === 'delivered') delivered.resolve(message);
    },
  });

  await c.step('client_and_watcher_ready', async () => {
    client.connect();
    watcher.run();
    await c.within(Promise.all([clientReady.promise, watcherReady.promise]), 10000, 'signalwire.ready');
  });

  const call = await c.step('dial', async () => {
    const result = await c.within(
      client.calling.dial({ type: 'phone', from: FROM, to: TO, timeout: 30 }),
      15000,
      'calling.dial',
    );
    c.check(result.successful, `dial successful (event ${c.describe(result.event && result.event.name)})`);
    c.check(result.call && result.call.state === 'answered', `dialed call answered, state ${result.call && result.call.state}`);
    c.check(typeof result.call.id === 'string' && result.call.id.length > 0, 'call has an id');
    return result.call;
  });

  await c.step('prompt_tts_digits', async () => {
    const result = await c.within(
      call.promptTTS({ text: 'Enter your PIN', digits_max: 3, digits_terminators: '#', digits_timeout: 5 }),
      15000,
      'promptTTS',
    );
    c.check(result.successful, `prompt successful (type ${result.type})`);
    c.check(result.type === 'digit', `prompt type digit, got ${result.type}`);
    c.check(typeof result.result === 'string' && /^[0-9*#]{1,3}$/.test(result.result), `digits ${result.result}`);
    c.check(typeof result.terminator === 'string', `terminator ${result.terminator}`);
  });

  await c.step('record', async () => {
    const result = await c.within(call.record({ beep: true, end_silence_timeout: 1 }), 15000, 'record');
    c.check(result.successful, `record successful (event ${c.describe(result.event && result.event.name)})`);
    c.check(typeof result.url === 'string' && result.url.length > 0, `record url ${result.url}`);
  });

  await c.step('connect_to_second_phone', async () => {
    const result = await c.within(call.connect({ type: 'phone', to: PEER }), 15000, 'connect');
    c.check(result.successful, `connect successful (event ${c.describe(result.event && result.event.name)})`);
    const peer = result.call;
    c.check(peer && typeof peer.id === 'string', `connect result has the peer call: ${c.describe(peer && peer.id)}`);
    c.check(peer.id !== call.id, 'peer is a different leg');
  });

  await c.step('hangup', async () => {
    const result = await c.within(call.hangup(), 15000, 'hangup');
    c.check(result.successful, 'hangup successful');
    c.check(call.state === 'ended', `state ${call.state}`);
  });

  await c.step('messaging_send_and_state_changes', async () => {
    const result = await c.within(
      client.messaging.send({ context: 'messages', from: FROM, to: TO, body: 'hello from the SDK' }),
      10000,
      'messaging.send',
    );
    c.check(result.successful === true, `send successful ${c.describe(result)}`);
    c.check(typeof result.messageId === 'string', `messageId ${result.messageId}`);
    const message = await c.within(delivered.promise, 10000, `delivered state (seen: ${states.join(',')})`);
    c.check(message.id === result.messageId, `state change for ${message.id}, sent ${result.messageId}`);
    const order = ['queued', 'initiated', 'sent', 'delivered'];
    const seen = states.filter((s) => order.includes(s));
    c.check(JSON.stringify(seen) === JSON.stringify(order), `state order ${states.join(',')}`);
  });

  c.done();
}

main().catch((err) => c.fail(c.describe(err)));
