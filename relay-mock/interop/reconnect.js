'use strict';
// (c) The mock drops the socket abruptly (POST /__control/drop). The SDK reconnects 3-5 s later
// with the same sessionid, its call survives (media still works on it), and new inbound calls
// reach it again.

const c = require('./common');

c.quietSdk();
const { RelayConsumer } = require('@signalwire/node');

let readyCount = 0;
let readyWaiter = c.deferred();
let incoming = c.deferred();

const consumer = new RelayConsumer({
  host: c.WS_URL,
  project: c.PROJECT,
  token: c.TOKEN,
  contexts: ['office'],
  ready() {
    readyCount += 1;
    readyWaiter.resolve(readyCount);
  },
  async onIncomingCall(call) {
    try {
      const answered = await call.answer();
      c.check(answered.successful, 'answer() successful');
      incoming.resolve(call);
    } catch (err) {
      incoming.reject(err);
    }
  },
});

async function ourSession() {
  const body = await c.getControl('sessions');
  const list = Array.isArray(body) ? body : body.sessions;
  c.check(Array.isArray(list), `sessions list: ${c.describe(body)}`);
  const live = list.filter((s) => s.connected);
  c.check(live.length === 1, `exactly one live session: ${c.describe(list)}`);
  return live[0];
}

async function main() {
  await c.step('consumer_ready', () => {
    consumer.run();
    return c.within(readyWaiter.promise, 10000, 'ready()');
  });

  const before = await c.step('session_listed', ourSession);

  const call = await c.step('inbound_call_answered', async () => {
    await c.control('inbound_call', { context: 'office', from: '+15551230001', to: '+15553210002' });
    return c.within(incoming.promise, 10000, 'onIncomingCall + answer');
  });

  await c.step('drop_socket', async () => {
    readyWaiter = c.deferred();
    const res = await c.control('drop', {});
    c.check(res.dropped >= 1, `dropped ${c.describe(res)}`);
  });

  await c.step('sdk_reconnects_same_session', async () => {
    const started = Date.now();
    const count = await c.within(readyWaiter.promise, 12000, 'ready() after the reconnect');
    c.check(count === 2, `ready() ran ${count} times`);
    const elapsed = Date.now() - started;
    c.check(elapsed >= 1500, `reconnect came after the SDK's 3-5 s delay, not ${elapsed} ms`);
    const after = await ourSession();
    c.check(after.sessionid === before.sessionid, `sessionid ${after.sessionid} vs ${before.sessionid}`);
    c.check(after.protocol === before.protocol, `protocol ${after.protocol} vs ${before.protocol}`);
  });

  await c.step('old_call_still_works', async () => {
    const played = await c.within(call.playTTS({ text: 'still here' }), 10000, 'playTTS after reconnect');
    c.check(played.successful, 'playTTS on the surviving call');
    const hung = await c.within(call.hangup(), 10000, 'hangup after reconnect');
    c.check(hung.successful && call.state === 'ended', `hangup, state ${call.state}`);
  });

  await c.step('new_inbound_call_after_reconnect', async () => {
    incoming = c.deferred();
    await c.control('inbound_call', { context: 'office', from: '+15551230009', to: '+15553210002' });
    const second = await c.within(incoming.promise, 10000, 'second onIncomingCall');
    c.check(second.id !== call.id, 'a new call');
    const hung = await c.within(second.hangup(), 10000, 'hangup of the new call');
    c.check(hung.successful, 'hangup successful');
  });

  c.done();
}

main().catch((err) => c.fail(c.describe(err)));
