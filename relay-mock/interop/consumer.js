'use strict';
// (a) A RelayConsumer on context `office`: an inbound call is answered, hears TTS and is hung up;
// a task delivered over the REST endpoint reaches onTask; an inbound SMS reaches onIncomingMessage.

const c = require('./common');

c.quietSdk();
const { RelayConsumer } = require('@signalwire/node');

const ready = c.deferred();
const callFlow = c.deferred();
const taskSeen = c.deferred();
const messageSeen = c.deferred();
const progress = [];

const consumer = new RelayConsumer({
  host: c.WS_URL,
  project: c.PROJECT,
  token: c.TOKEN,
  contexts: ['office'],
  ready() {
    ready.resolve();
  },
  async onIncomingCall(call) {
    try {
      progress.push(`incoming ${call.id} from ${call.from} to ${call.to}`);
      const answered = await call.answer();
      c.check(answered.successful, 'answer() successful');
      progress.push('answered');
      const played = await call.playTTS({ text: 'Welcome to relay-mock' });
      c.check(played.successful, `playTTS() successful (state ${played.event && played.event.name})`);
      progress.push('played');
      const hung = await call.hangup();
      c.check(hung.successful, 'hangup() successful');
      c.check(call.state === 'ended', `call ended, state is ${call.state}`);
      progress.push('hung up');
      callFlow.resolve({ id: call.id, from: call.from, to: call.to });
    } catch (err) {
      callFlow.reject(err);
    }
  },
  onTask(message) {
    taskSeen.resolve(message);
  },
  onIncomingMessage(message) {
    messageSeen.resolve(message);
  },
});

async function main() {
  await c.step('consumer_ready', () => {
    consumer.run();
    return c.within(ready.promise, 10000, 'ready()');
  });

  await c.step('inbound_call_answer_play_hangup', async () => {
    const res = await c.control('inbound_call', {
      context: 'office',
      from: '+15551230001',
      to: '+15553210002',
    });
    c.check(typeof res.call_id === 'string', `inbound_call returns call_id: ${c.describe(res)}`);
    const call = await c.within(callFlow.promise, 15000, `the call flow (so far: ${progress.join(', ')})`);
    c.check(call.id === res.call_id, `onIncomingCall got call ${call.id}, control said ${res.call_id}`);
    c.check(call.from === '+15551230001' && call.to === '+15553210002', `numbers ${call.from} -> ${call.to}`);
  });

  await c.step('task_delivered_to_onTask', async () => {
    const payload = { context: 'office', message: { key: 'value', n: 42, nested: { ok: true } } };
    const unauthorized = await c.request('POST', '/api/relay/rest/tasks', payload);
    c.check(unauthorized.status === 401, `no auth -> 401, got ${unauthorized.status}`);
    const auth = `Basic ${Buffer.from(`${c.PROJECT}:${c.TOKEN}`).toString('base64')}`;
    const res = await c.request('POST', '/api/relay/rest/tasks', payload, { Authorization: auth });
    c.check(res.status === 204, `tasks -> 204, got ${res.status} ${c.describe(res.body)}`);
    const message = await c.within(taskSeen.promise, 10000, 'onTask');
    c.check(
      JSON.stringify(message) === JSON.stringify(payload.message),
      `onTask message ${c.describe(message)}`,
    );
  });

  await c.step('inbound_message_to_onIncomingMessage', async () => {
    const res = await c.control('inbound_message', {
      context: 'office',
      from: '+15551230001',
      to: '+15553210002',
      body: 'hello from the mock',
    });
    const message = await c.within(messageSeen.promise, 10000, 'onIncomingMessage');
    c.check(message.id === res.message_id, `message id ${message.id} vs ${res.message_id}`);
    c.check(message.body === 'hello from the mock', `body ${message.body}`);
    c.check(message.direction === 'inbound' && message.context === 'office', c.describe(message.options));
  });

  c.done();
}

main().catch((err) => c.fail(c.describe(err)));
