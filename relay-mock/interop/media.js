'use strict';
// (d) More of the SDK's call API and the control API's scripted outcomes: detect, send_digits,
// fax, tap, async play with stop, refer on a SIP call, `next` (busy dial, play error,
// undelivered SMS), far-end hangup (end_call), server ping and blade.disconnect + reconnect.

const c = require('./common');

c.quietSdk();
const { RelayClient } = require('@signalwire/node');

const FROM = '+15550000011';
const TO = '+15550000012';

let readyCount = 0;
let readyWaiter = c.deferred();

async function dialPhone(client) {
  const result = await c.within(client.calling.dial({ type: 'phone', from: FROM, to: TO }), 10000, 'dial');
  c.check(result.successful, 'dial successful');
  return result.call;
}

async function main() {
  const client = new RelayClient({ host: c.WS_URL, project: c.PROJECT, token: c.TOKEN });
  client.on('signalwire.ready', () => {
    readyCount += 1;
    readyWaiter.resolve(readyCount);
  });

  await c.step('client_ready', () => {
    client.connect();
    return c.within(readyWaiter.promise, 10000, 'signalwire.ready');
  });

  const call = await c.step('dial', () => dialPhone(client));

  await c.step('detect_answering_machine', async () => {
    const result = await c.within(call.detectAnsweringMachine({ timeout: 5 }), 10000, 'detect');
    c.check(result.successful, `detect successful (${result.type} ${result.result})`);
    c.check(result.type === 'machine', `detect type ${result.type}`);
    c.check(result.result === 'MACHINE', `detect result ${result.result}`);
  });

  await c.step('send_digits', async () => {
    const result = await c.within(call.sendDigits('12#'), 10000, 'sendDigits');
    c.check(result.successful, 'sendDigits successful');
  });

  await c.step('fax_send', async () => {
    const result = await c.within(call.faxSend('https://example.invalid/doc.pdf'), 10000, 'faxSend');
    c.check(result.successful, `faxSend successful (pages ${result.pages})`);
    c.check(Number(result.pages) === 1, `pages ${result.pages}`);
  });

  await c.step('tap_async_then_stop', async () => {
    const action = await c.within(
      call.tapAsync({ audio_direction: 'both', target_type: 'rtp', target_addr: '127.0.0.1', target_port: 1234 }),
      10000,
      'tapAsync',
    );
    c.check(!action.completed, 'tap still running');
    c.check(action.sourceDevice && action.sourceDevice.type, `tap source device ${c.describe(action.sourceDevice)}`);
    await c.within(action.stop(), 10000, 'tap stop');
    await c.within(waitUntil(() => action.completed), 5000, 'tap finished');
  });

  await c.step('play_async_ringtone_stop', async () => {
    const action = await c.within(call.playRingtoneAsync({ name: 'us', duration: 30 }), 10000, 'playRingtoneAsync');
    c.check(!action.completed, 'ringtone still playing');
    await c.within(action.volume(5), 10000, 'play volume');
    await c.within(action.stop(), 10000, 'play stop');
    await c.within(waitUntil(() => action.completed), 5000, 'play finished after stop');
  });

  await c.step('next_play_error', async () => {
    await c.control('next', { method: 'calling.play', outcome: 'error' });
    const result = await c.within(call.playTTS({ text: 'this fails' }), 10000, 'playTTS (scripted error)');
    c.check(result.successful === false, 'playTTS not successful');
  });

  await c.step('far_end_hangup', async () => {
    const res = await c.control('end_call', { call_id: call.id, reason: 'hangup' });
    c.check(res.ended === call.id, c.describe(res));
    // Not call.waitForEnded(): once `ending` has arrived, the SDK's waitFor resolves at once
    // (its Await component sees call.ended and terminates), so poll the state instead.
    await c.within(waitUntil(() => call.state === 'ended'), 5000, `state ended (is ${call.state})`);
  });

  await c.step('refer_on_sip_call', async () => {
    const result = await c.within(
      client.calling.dial({ type: 'sip', from: 'sip:alice@example.invalid', to: 'sip:bob@example.invalid' }),
      10000,
      'sip dial',
    );
    c.check(result.successful, 'sip dial successful');
    const refer = await c.within(result.call.refer({ to: 'sip:carol@example.invalid' }), 10000, 'refer');
    c.check(refer.successful, `refer successful (${refer.referResponseCode})`);
    c.check(refer.referTo === 'sip:carol@example.invalid', `refer to ${refer.referTo}`);
    await c.within(result.call.hangup(), 10000, 'sip hangup');
  });

  await c.step('next_dial_busy', async () => {
    await c.control('next', { method: 'calling.dial', outcome: 'busy' });
    const result = await c.within(
      client.calling.dial({ type: 'phone', from: FROM, to: TO }),
      10000,
      'dial (scripted busy)',
    );
    c.check(result.successful === false, 'busy dial not successful');
  });

  await c.step('next_messaging_undelivered', async () => {
    const states = [];
    const final = c.deferred();
    await c.within(
      client.messaging.onStateChange(['sms'], (m) => {
        states.push(m.state);
        if (m.state === 'undelivered' || m.state === 'failed' || m.state === 'delivered') final.resolve(m);
      }),
      10000,
      'onStateChange registration',
    );
    await c.control('next', { method: 'messaging.send', outcome: 'undelivered' });
    const sent = await c.within(
      client.messaging.send({ context: 'sms', from: FROM, to: TO, body: 'will not arrive' }),
      10000,
      'messaging.send',
    );
    c.check(sent.successful === true, 'send accepted');
    const message = await c.within(final.promise, 10000, `final state (seen ${states.join(',')})`);
    c.check(message.state === 'undelivered', `final state ${message.state} (${states.join(',')})`);
  });

  await c.step('server_ping_ignored', async () => {
    const res = await c.control('ping', {});
    c.check(res.sent >= 1, c.describe(res));
    const call2 = await dialPhone(client);
    await c.within(call2.hangup(), 10000, 'hangup after ping');
  });

  await c.step('blade_disconnect_then_reconnect', async () => {
    readyWaiter = c.deferred();
    const res = await c.control('blade_disconnect', { close_after_ms: 100 });
    c.check(res.sent >= 1, c.describe(res));
    const count = await c.within(readyWaiter.promise, 12000, 'signalwire.ready after the close');
    c.check(count === 2, `ready count ${count}`);
    const call3 = await dialPhone(client);
    await c.within(call3.hangup(), 10000, 'hangup after reconnect');
  });

  c.done();
}

function waitUntil(predicate) {
  return new Promise((resolve) => {
    const tick = () => (predicate() ? resolve() : setTimeout(tick, 10));
    tick();
  });
}

main().catch((err) => c.fail(c.describe(err)));
