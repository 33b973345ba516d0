'use strict';
// (e) The rest of the SDK's calling surface: state waiters and `call.on` callbacks, every play
// helper (several media at once, audio, silence, ringtone; async with pause/resume/volume/stop),
// every prompt helper (digits, speech, audio, ringtone; scripted no_input; async with
// volume/stop), record/recordAsync + stop, the detect family (machine, human, beep, fax, digit;
// async + stop), faxReceive, faxSendAsync (+ stop), sendDigitsAsync, connectAsync, connect with
// serial and parallel device lists (and a scripted failure), disconnect, far-end hangup of a
// bridged peer, hangup while a connect still rings, parallel/serial dial, a scripted no-answer
// dial, blocking components ended by a far-end hangup, pass to a second receiver, and inbound
// calls on a RelayConsumer context hung up with a reason.
//
// Expected values come from PROTOCOL.md and CONTROL_API.md ("Component timing", at the default
// MockConfig::media_speed 1.0). Where the 2.6.0 SDK itself misbehaves (PROTOCOL.md §13) the step
// says so and checks what the SDK still exposes (callbacks, the control API) instead.

const c = require('./common');

c.quietSdk();
const { RelayClient, RelayConsumer } = require('@signalwire/node');

const FROM = '+15550000021';
const TO = '+15550000022';
const PEER1 = '+15550000031';
const PEER2 = '+15550000032';
const SIP_PEER = { type: 'sip', from: 'sip:surface@example.invalid', to: 'sip:peer@example.invalid' };
const AUDIO = 'https://example.invalid/audio.mp3';
const DOC = 'https://example.invalid/surface.pdf';
const CONTEXT = 'surface';

// Media time of the mock at MockConfig::media_speed 1.0 (CONTROL_API.md "Component timing").
const TTS_OR_AUDIO_MS = 300;
// Slack for "took at least the media length" checks (timers, event spacing).
const EARLY_MS = 60;

function waitUntil(predicate, ms, what) {
  return c.within(
    new Promise((resolve) => {
      const tick = () => (predicate() ? resolve() : setTimeout(tick, 10));
      tick();
    }),
    ms,
    what,
  );
}

// Records every `call.on` callback of `names` as it fires: `{name, params}`.
function recordCallbacks(call, names) {
  const log = [];
  for (const name of names) {
    call.on(name, (_call, params) => log.push({ name, params }));
  }
  return log;
}

async function timed(promise) {
  const started = Date.now();
  const value = await promise;
  return { value, ms: Date.now() - started };
}

let incomingWaiter = c.deferred();

async function main() {
  const client = new RelayClient({ host: c.WS_URL, project: c.PROJECT, token: c.TOKEN });
  const clientReady = c.deferred();
  client.on('signalwire.ready', () => clientReady.resolve());
  client.on('signalwire.error', (err) => clientReady.reject(err));

  const consumerReady = c.deferred();
  const consumer = new RelayConsumer({
    host: c.WS_URL,
    project: c.PROJECT,
    token: c.TOKEN,
    contexts: [CONTEXT],
    ready() {
      consumerReady.resolve();
    },
    onIncomingCall(call) {
      incomingWaiter.resolve(call);
    },
  });

  await c.step('client_and_consumer_ready', async () => {
    client.connect();
    consumer.run();
    await c.within(Promise.all([clientReady.promise, consumerReady.promise]), 10000, 'signalwire.ready');
  });

  // ---- dial with waiters and state callbacks -------------------------------------------------

  const stateLog = [];
  const call = await c.step('new_call_waiters_and_dial', async () => {
    const call = client.calling.newCall({ type: 'phone', from: FROM, to: TO, timeout: 25 });
    call.on('stateChange', (cl) => stateLog.push(cl.state));
    const ringingCb = c.deferred();
    call.on('ringing', (cl) => ringingCb.resolve(cl.state));
    // Waiters registered before anything is sent: they must resolve from the state events.
    const ringing = call.waitForRinging();
    const answered = call.waitForAnswered();
    const result = await c.within(call.dial(), 10000, 'dial');
    c.check(result.successful, `dial successful (event ${result.event && result.event.name})`);
    c.check(result.event.name === 'answered', `dial event ${result.event.name}`);
    c.check(typeof call.id === 'string' && call.id.length > 0, 'call id learned from the events');
    c.check((await c.within(ringing, 5000, 'waitForRinging')) === true, 'waitForRinging true');
    c.check((await c.within(answered, 5000, 'waitForAnswered')) === true, 'waitForAnswered true');
    c.check((await c.within(ringingCb.promise, 5000, "on('ringing')")) === 'ringing', 'ringing callback');
    c.check(
      JSON.stringify(stateLog) === JSON.stringify(['created', 'ringing', 'answered']),
      `state callbacks ${stateLog.join(',')}`,
    );
    c.check(call.from === FROM && call.to === TO && call.type === 'phone', `${call.type} ${call.from} -> ${call.to}`);
    return call;
  });

  // ---- play ------------------------------------------------------------------------------------

  await c.step('play_several_media', async () => {
    const log = recordCallbacks(call, ['play.stateChange']);
    const { value: result, ms } = await timed(
      c.within(
        call.play(
          { type: 'audio', url: AUDIO },
          { type: 'tts', text: 'several media', language: 'en-US', gender: 'male' },
          { type: 'silence', duration: 0.4 },
          { type: 'ringtone', name: 'us', duration: 0.4 },
        ),
        10000,
        'play',
      ),
    );
    c.check(result.successful, `play successful (event ${result.event && result.event.name})`);
    c.check(result.event.name === 'finished', `play event ${result.event.name}`);
    // audio 0.3 + tts 0.3 + silence 0.4 + ringtone 0.4
    c.check(ms >= 2 * TTS_OR_AUDIO_MS + 800 - EARLY_MS, `played for the media length, took ${ms} ms`);
    const states = log.map((e) => e.params.state);
    c.check(JSON.stringify(states) === JSON.stringify(['playing', 'finished']), `play states ${states}`);
    c.check(log.every((e) => e.params.control_id === log[0].params.control_id), 'one control_id');
  });

  await c.step('play_audio_silence_ringtone', async () => {
    const audio = await timed(c.within(call.playAudio({ url: AUDIO, volume: -6 }), 10000, 'playAudio'));
    c.check(audio.value.successful, 'playAudio successful');
    c.check(audio.ms >= TTS_OR_AUDIO_MS - EARLY_MS, `playAudio took ${audio.ms} ms`);
    const silence = await timed(c.within(call.playSilence(0.5), 10000, 'playSilence'));
    c.check(silence.value.successful && silence.value.event.name === 'finished', 'playSilence finished');
    c.check(silence.ms >= 500 - EARLY_MS, `playSilence(0.5) took ${silence.ms} ms`);
    const ring = await timed(c.within(call.playRingtone({ name: 'at', duration: 0.6 }), 10000, 'playRingtone'));
    c.check(ring.value.successful, 'playRingtone successful');
    c.check(ring.ms >= 600 - EARLY_MS, `playRingtone(0.6) took ${ring.ms} ms`);
    const plain = await timed(c.within(call.playRingtone({ name: 'us' }), 10000, 'playRingtone default'));
    c.check(plain.value.successful, 'playRingtone without duration successful');
    c.check(plain.ms >= 1000 - EARLY_MS, `ringtone without duration lasts 1 s, took ${plain.ms} ms`);
  });

  await c.step('play_async_pause_resume_volume_stop', async () => {
    const log = recordCallbacks(call, ['play.stateChange']);
    const action = await c.within(
      call.playAsync({ media: [{ type: 'ringtone', name: 'us', duration: 30 }], volume: 2 }),
      10000,
      'playAsync',
    );
    const mine = () => log.filter((e) => e.params.control_id === action.controlId).map((e) => e.params.state);
    c.check(!action.completed, 'play still running');
    await waitUntil(() => mine().includes('playing'), 5000, 'playing');
    const paused = await c.within(action.pause(), 5000, 'pause');
    c.check(paused.successful === true, 'pause successful');
    await waitUntil(() => mine().includes('paused'), 5000, `paused event (seen ${mine()})`);
    // PROTOCOL.md §13.18: 2.6.0 treats `paused` as completion, so the action now reads
    // completed/paused and ignores the later events; the callbacks still see all of them.
    c.check(action.completed && action.state === 'paused', `action after pause ${action.completed} ${action.state}`);
    const resumed = await c.within(action.resume(), 5000, 'resume');
    c.check(resumed.successful === true, 'resume successful');
    await waitUntil(() => mine().filter((s) => s === 'playing').length === 2, 5000, `playing again (seen ${mine()})`);
    const vol = await c.within(action.volume(-3), 5000, 'volume');
    c.check(vol.successful === true, 'volume successful');
    const stopped = await c.within(action.stop(), 5000, 'stop');
    c.check(stopped.successful === true && stopped.code === '200', `stop ${stopped.code} ${stopped.message}`);
    await waitUntil(() => mine().includes('finished'), 5000, `finished after stop (seen ${mine()})`);
    c.check(
      JSON.stringify(mine()) === JSON.stringify(['playing', 'paused', 'playing', 'finished']),
      `play states ${mine()}`,
    );
    const again = await c.within(action.stop(), 5000, 'second stop');
    c.check(again.successful === false, `stopping a finished play fails (${again.code})`);
  });

  await c.step('play_tts_async_runs_to_end', async () => {
    const action = await c.within(call.playTTSAsync({ text: 'async tts' }), 10000, 'playTTSAsync');
    await waitUntil(() => action.completed, 5000, 'tts finished');
    c.check(action.state === 'finished' && action.result.successful, `tts action ${action.state}`);
  });

  // ---- prompt ----------------------------------------------------------------------------------

  await c.step('prompt_digits_with_media_list', async () => {
    const log = recordCallbacks(call, ['collect', 'prompt']);
    const { value: result, ms } = await timed(
      c.within(
        call.prompt(
          { type: 'digits', digits_max: 2, digits_terminators: '*#', digits_timeout: 3, initial_timeout: 5 },
          { type: 'tts', text: 'Enter two digits' },
          { type: 'audio', url: AUDIO },
        ),
        10000,
        'prompt',
      ),
    );
    c.check(result.successful, `prompt successful (${result.type})`);
    c.check(result.type === 'digit', `prompt type ${result.type}`);
    c.check(result.result === '12', `digits cut to digits_max: ${result.result}`);
    c.check(result.terminator === '*', `first terminator: ${result.terminator}`);
    c.check(result.event.name === 'digit', `event ${result.event.name}`);
    c.check(ms >= 2 * TTS_OR_AUDIO_MS - EARLY_MS, `collect after the play part, took ${ms} ms`);
    c.check(log.some((e) => e.name === 'collect') && log.some((e) => e.name === 'prompt'), 'collect/prompt callbacks');
  });

  await c.step('prompt_speech', async () => {
    const result = await c.within(
      call.prompt(
        { type: 'speech', speech_language: 'en-US', end_silence_timeout: 1, speech_hints: ['hello'] },
        { type: 'tts', text: 'Say something' },
      ),
      10000,
      'prompt speech',
    );
    c.check(result.successful, `speech prompt successful (${result.type})`);
    c.check(result.type === 'speech', `type ${result.type}`);
    c.check(result.result === 'hello world', `text ${result.result}`);
    c.check(result.confidence === 83.2, `confidence ${result.confidence}`);
  });

  await c.step('prompt_audio_and_ringtone', async () => {
    const audio = await c.within(call.promptAudio({ type: 'digits', digits_max: 4, url: AUDIO }), 10000, 'promptAudio');
    c.check(audio.successful && audio.type === 'digit', `promptAudio ${audio.type}`);
    c.check(audio.result === '123' && audio.terminator === '#', `promptAudio ${audio.result} ${audio.terminator}`);
    const ring = await timed(
      c.within(call.promptRingtone({ name: 'us', duration: 0.5, digits_max: 1 }), 10000, 'promptRingtone'),
    );
    c.check(ring.value.successful && ring.value.result === '1', `promptRingtone ${ring.value.result}`);
    c.check(ring.ms >= 500 - EARLY_MS, `promptRingtone waited for its ringtone, took ${ring.ms} ms`);
  });

  await c.step('prompt_scripted_no_input', async () => {
    await c.control('next', { method: 'calling.play_and_collect', outcome: 'no_input' });
    const result = await c.within(call.promptTTS({ text: 'Nothing?', digits_max: 1 }), 10000, 'promptTTS');
    c.check(result.successful === false, 'no_input prompt not successful');
    c.check(result.type === 'no_input' && result.event.name === 'no_input', `type ${result.type}`);
  });

  await c.step('prompt_async_volume_stop', async () => {
    const action = await c.within(
      call.promptRingtoneAsync({ name: 'us', duration: 30, type: 'both', digits_max: 3 }),
      10000,
      'promptRingtoneAsync',
    );
    c.check(!action.completed, 'prompt still running');
    const vol = await c.within(action.volume(4), 5000, 'prompt volume');
    c.check(vol.successful === true, 'prompt volume successful');
    const stopped = await c.within(action.stop(), 5000, 'prompt stop');
    c.check(stopped.successful, `prompt stop ${stopped.code}`);
    await waitUntil(() => action.completed, 5000, 'prompt completed after stop');
    c.check(action.state === 'error' && action.result.type === 'error', `stopped prompt ${action.state}`);
    c.check(action.result.successful === false, 'stopped prompt not successful');
  });

  // ---- record ----------------------------------------------------------------------------------

  await c.step('record_async_stop', async () => {
    const log = recordCallbacks(call, ['record.recording', 'record.finished']);
    const action = await c.within(
      call.recordAsync({ beep: true, format: 'wav', direction: 'both', end_silence_timeout: 30 }),
      10000,
      'recordAsync',
    );
    c.check(typeof action.url === 'string' && /^https?:\/\//.test(action.url), `url from the response: ${action.url}`);
    c.check(!action.completed, 'still recording');
    await waitUntil(() => log.some((e) => e.name === 'record.recording'), 5000, 'recording event');
    await c.sleep(200);
    const stopped = await c.within(action.stop(), 5000, 'record stop');
    c.check(stopped.successful, `record stop ${stopped.code}`);
    await waitUntil(() => action.completed, 5000, 'record finished after stop');
    const result = action.result;
    c.check(result.successful && action.state === 'finished', `record ${action.state}`);
    c.check(result.url === action.url, `final url ${result.url} vs ${action.url}`);
    c.check(typeof result.duration === 'number' && typeof result.size === 'number', 'duration and size');
    // Stopped after ~0.2 s: it reports what it recorded, not its 30 s silence timeout.
    c.check(result.duration >= 0.15 && result.duration < 5, `duration of a stopped recording: ${result.duration} s`);
    c.check(result.size > 44, `size of a stopped recording: ${result.size}`);
    const fin = log.find((e) => e.name === 'record.finished');
    c.check(fin && fin.params.record && fin.params.record.audio.format === 'wav', 'record echoed');
  });

  await c.step('record_runs_for_its_silence_timeout', async () => {
    const { value: result, ms } = await timed(c.within(call.record({ end_silence_timeout: 0.5 }), 10000, 'record'));
    c.check(result.successful && result.event.name === 'finished', `record ${result.event && result.event.name}`);
    c.check(result.duration === 0.5, `duration ${result.duration}`);
    c.check(ms >= 500 - EARLY_MS, `record took ${ms} ms`);
  });

  // ---- detect ----------------------------------------------------------------------------------

  await c.step('detect_machine_and_human', async () => {
    const machine = await c.within(call.detectMachine({ timeout: 5 }), 10000, 'detectMachine');
    c.check(machine.successful && machine.result === 'MACHINE' && machine.type === 'machine', `detectMachine ${machine.result}`);
    // detectHuman recomputes `successful` as result === HUMAN: on the default (machine) detector
    // it must fail, on a scripted HUMAN it must succeed.
    const notHuman = await c.within(call.detectHuman({ timeout: 5 }), 10000, 'detectHuman');
    c.check(notHuman.successful === false && notHuman.result === 'MACHINE', `detectHuman on a machine ${notHuman.result}`);
    await c.control('next', { method: 'calling.detect', outcome: 'HUMAN' });
    const human = await c.within(call.detectHuman({ timeout: 5 }), 10000, 'detectHuman (scripted)');
    c.check(human.successful && human.result === 'HUMAN', `detectHuman ${human.result}`);
  });

  await c.step('detect_machine_wait_for_beep', async () => {
    const log = recordCallbacks(call, ['detect.update']);
    const result = await c.within(call.amd({ wait_for_beep: true, timeout: 5 }), 10000, 'amd wait_for_beep');
    c.check(result.successful && result.result === 'MACHINE', `amd ${result.result}`);
    // Completed on READY (not on MACHINE): the event is the READY one.
    c.check(result.event.name === 'READY', `completed on ${result.event.name}`);
    // (Other detectors of this call are still running: keep this one's events.)
    const mine = result.component.controlId;
    const seen = log.filter((e) => e.params.control_id === mine).map((e) => e.params.detect.params.event);
    c.check(JSON.stringify(seen) === JSON.stringify(['MACHINE', 'NOT_READY', 'READY']), `detector events ${seen}`);
  });

  await c.step('detect_fax_and_digit', async () => {
    const fax = await c.within(call.detectFax({ tone: 'CNG', timeout: 5 }), 10000, 'detectFax');
    c.check(fax.successful && fax.type === 'fax' && fax.result === 'CNG', `detectFax ${fax.type} ${fax.result}`);
    const ced = await c.within(call.detectFax({ timeout: 5 }), 10000, 'detectFax default');
    c.check(ced.successful && ced.result === 'CED', `detectFax default tone ${ced.result}`);
    const digit = await c.within(call.detectDigit({ digits: '5#', timeout: 5 }), 10000, 'detectDigit');
    c.check(digit.successful && digit.type === 'digit' && digit.result === '5', `detectDigit ${digit.type} ${digit.result}`);
  });

  await c.step('detect_async_stop', async () => {
    const log = recordCallbacks(call, ['detect.update', 'detect.finished']);
    const action = await c.within(call.detectAnsweringMachineAsync({ timeout: 20 }), 10000, 'detectAsync');
    const mine = (name) => log.filter((e) => e.name === name && e.params.control_id === action.controlId);
    c.check(!action.completed, 'detector running');
    await waitUntil(() => mine('detect.update').length >= 3, 5000, 'three detector events');
    c.check(!action.completed, 'detector still running after its events');
    const stopped = await c.within(action.stop(), 5000, 'detect stop');
    c.check(stopped.successful, `detect stop ${stopped.code}`);
    await waitUntil(() => action.completed, 5000, 'detect completed after stop');
    c.check(mine('detect.finished').length === 1, 'detect.finished callback');
    c.check(action.result.successful, 'async detect successful');
    c.check(action.result.result === 'MACHINE,NOT_READY,READY', `async detect events ${action.result.result}`);
  });

  await c.step('detect_digit_async_via_detectAsync', async () => {
    const action = await c.within(call.detectAsync({ type: 'digit', digits: '9', timeout: 0.3 }), 10000, 'detectAsync');
    // Ends by itself after `timeout` seconds with `finished`.
    await waitUntil(() => action.completed, 5000, 'digit detector finished by its timeout');
    c.check(action.result.type === 'digit' && action.result.result === '9', `digits ${action.result.result}`);
    c.check(action.state === 'finished', `state ${action.state}`);
  });

  // ---- fax -------------------------------------------------------------------------------------

  await c.step('fax_receive', async () => {
    const log = recordCallbacks(call, ['fax.page', 'fax.finished']);
    const { value: result, ms } = await timed(c.within(call.faxReceive(), 10000, 'faxReceive'));
    c.check(result.successful, `faxReceive successful (${result.event && result.event.name})`);
    c.check(result.direction === 'receive', `direction ${result.direction}`);
    c.check(Number(result.pages) === 1, `pages ${result.pages}`);
    c.check(typeof result.document === 'string' && result.document.length > 0, `document ${result.document}`);
    c.check(typeof result.identity === 'string' && typeof result.remoteIdentity === 'string', 'identities');
    c.check(log.some((e) => e.name === 'fax.page'), 'a page event before the end');
    c.check(ms >= 1000 - EARLY_MS, `fax took ${ms} ms`);
  });

  await c.step('fax_send_async', async () => {
    const action = await c.within(call.faxSendAsync(DOC, '+15550001111', 'Surface header'), 10000, 'faxSendAsync');
    c.check(!action.completed, 'fax still sending');
    await waitUntil(() => action.completed, 5000, 'fax sent');
    const r = action.result;
    c.check(r.successful && action.state === 'finished', `fax action ${action.state}`);
    c.check(r.direction === 'send' && r.document === DOC && r.identity === '+15550001111', `${r.direction} ${r.document} ${r.identity}`);
  });

  await c.step('fax_send_async_stop', async () => {
    const action = await c.within(call.faxSendAsync(DOC), 10000, 'faxSendAsync');
    const stopped = await c.within(action.stop(), 5000, 'fax stop');
    c.check(stopped.successful, `fax stop ${stopped.code}`);
    await waitUntil(() => action.completed, 5000, 'fax completed after stop');
    c.check(action.result.successful === false, 'stopped fax not successful');
  });

  // ---- send digits -----------------------------------------------------------------------------

  await c.step('send_digits_async', async () => {
    const log = recordCallbacks(call, ['sendDigits.finished']);
    // 50 ms a digit: still sending when the response arrives.
    const action = await c.within(call.sendDigitsAsync('1234567890*#1234567890'), 10000, 'sendDigitsAsync');
    c.check(!action.completed, 'digits still being sent');
    await waitUntil(() => action.completed, 5000, 'send_digits finished');
    c.check(action.state === 'finished' && action.result.successful, `send_digits ${action.state}`);
    c.check(log.some((e) => e.params.control_id === action.controlId), 'sendDigits.finished callback');
  });

  // ---- connect / disconnect --------------------------------------------------------------------

  await c.step('connect_async_then_disconnect', async () => {
    const log = recordCallbacks(call, ['connect.stateChange', 'connect.connected', 'connect.disconnected']);
    const action = await c.within(call.connectAsync({ type: 'phone', to: PEER1 }), 10000, 'connectAsync');
    await waitUntil(() => action.completed, 5000, 'connected');
    c.check(action.state === 'connected' && action.result.successful, `connect action ${action.state}`);
    const peer = action.result.call;
    c.check(peer && peer.id && peer.id !== call.id, `peer call ${peer && peer.id}`);
    c.check(peer.to === PEER1 && peer.from === FROM, `peer ${peer.from} -> ${peer.to} (from defaults to the call's)`);
    c.check(peer.state === 'answered', `peer state ${peer.state}`);
    c.check(call.peer === peer, 'call.peer is the peer leg');
    const disc = await c.within(call.disconnect(), 10000, 'disconnect');
    c.check(disc.successful && disc.event.name === 'disconnected', `disconnect ${disc.event && disc.event.name}`);
    c.check(call.peer === undefined, 'no peer after disconnect');
    c.check(call.state === 'answered' && peer.state === 'answered', `both legs up: ${call.state} ${peer.state}`);
    const names = log.map((e) => e.name);
    c.check(names.includes('connect.connected') && names.includes('connect.disconnected'), `callbacks ${names}`);
    const hung = await c.within(peer.hangup(), 10000, 'hangup of the unbridged peer');
    c.check(hung.successful && peer.state === 'ended', `peer hangup ${peer.state}`);
    c.check(call.state === 'answered', `the call stays up, ${call.state}`);
    const again = await c.within(call.disconnect(), 10000, 'disconnect without a peer');
    c.check(again.successful === false && again.event.name === 'failed', `disconnect unbridged ${again.event && again.event.name}`);
  });

  await c.step('connect_serial_devices', async () => {
    const result = await c.within(
      call.connect({ type: 'phone', to: PEER1, timeout: 10 }, { type: 'phone', to: PEER2 }),
      10000,
      'connect serial',
    );
    c.check(result.successful && result.event.name === 'connected', `serial connect ${result.event.name}`);
    // ConnectResult.call reads call.peer live: keep the peer before disconnecting.
    const peer = result.call;
    c.check(peer && peer.to === PEER1, `first serial group answers: ${peer && peer.to}`);
    const disc = await c.within(call.disconnect(), 10000, 'disconnect');
    c.check(disc.successful, 'disconnect serial peer');
    c.check(result.call === undefined, 'no peer on the result after disconnect');
    const hung = await c.within(peer.hangup(), 10000, 'hangup serial peer');
    c.check(hung.successful, 'hangup serial peer');
  });

  await c.step('connect_scripted_failure', async () => {
    await c.control('next', { method: 'calling.connect', outcome: 'failed' });
    const log = recordCallbacks(call, ['connect.connecting', 'connect.connected', 'connect.failed']);
    const result = await c.within(
      call.connect({ type: 'phone', to: PEER1 }, [{ type: 'phone', to: PEER2 }, SIP_PEER]),
      10000,
      'connect (scripted failure)',
    );
    c.check(result.successful === false && result.event.name === 'failed', `connect ${result.event && result.event.name}`);
    c.check(result.call === undefined && call.peer === undefined, 'no peer after a failed connect');
    const names = log.map((e) => e.name);
    c.check(
      JSON.stringify(names) === JSON.stringify(['connect.connecting', 'connect.failed']),
      `connect callbacks ${names}`,
    );
    c.check(call.state === 'answered', `the call stays up, ${call.state}`);
  });

  await c.step('connect_parallel_devices_far_end_hangup', async () => {
    const peerStates = [];
    const result = await c.within(
      call.connect({ devices: [[{ type: 'phone', to: PEER2 }, SIP_PEER]], ringback: { type: 'ringtone', name: 'us' } }),
      10000,
      'connect parallel',
    );
    c.check(result.successful, `parallel connect ${result.event.name}`);
    const peer = result.call;
    c.check(peer && peer.to === PEER2 && peer.type === 'phone', `parallel winner ${peer && peer.to}`);
    peer.on('stateChange', (p) => peerStates.push(p.state));
    const disconnected = c.deferred();
    call.on('connect.disconnected', () => disconnected.resolve());
    // The peer hangs up: the call sees its bridge end (connect `disconnected`) and stays up.
    const res = await c.control('end_call', { call_id: peer.id, reason: 'hangup' });
    c.check(res.ended === peer.id, c.describe(res));
    await c.within(disconnected.promise, 5000, 'connect.disconnected on the call');
    await waitUntil(() => peer.state === 'ended', 5000, `peer ended (${peerStates})`);
    c.check(call.peer === undefined && call.state === 'answered', `call after the peer left: ${call.state}`);
  });

  await c.step('more_async_helpers', async () => {
    const [audio, silence, prompt, promptSpeech, faxRecv, detFax, detDigit, detHuman] = await c.within(
      Promise.all([
        call.playAudioAsync(AUDIO),
        call.playSilenceAsync(0.2),
        call.promptTTSAsync({ text: 'two digits', digits_max: 2 }),
        call.promptAudioAsync({ type: 'speech', url: AUDIO }),
        call.faxReceiveAsync(),
        call.detectFaxAsync({ tone: 'CED', timeout: 0.3 }),
        call.detectDigitAsync({ digits: '7', timeout: 0.3 }),
        call.detectHumanAsync({ timeout: 0.3 }),
      ]),
      10000,
      'async helpers',
    );
    const all = [audio, silence, prompt, promptSpeech, faxRecv, detFax, detDigit, detHuman];
    await waitUntil(() => all.every((a) => a.completed), 5000, `all completed: ${all.map((a) => a.state)}`);
    c.check(audio.result.successful && silence.result.successful, 'async audio/silence finished');
    c.check(prompt.result.type === 'digit' && prompt.result.result === '12', `promptTTSAsync ${prompt.result.result}`);
    c.check(promptSpeech.result.type === 'speech' && promptSpeech.result.result === 'hello world', 'promptAudioAsync speech');
    c.check(faxRecv.result.successful && faxRecv.result.direction === 'receive', 'faxReceiveAsync');
    c.check(detFax.result.result === 'CED' && detFax.result.type === 'fax', `detectFaxAsync ${detFax.result.result}`);
    c.check(detDigit.result.result === '7', `detectDigitAsync ${detDigit.result.result}`);
    c.check(detHuman.result.result === 'MACHINE,NOT_READY,READY', `detectHumanAsync ${detHuman.result.result}`);
  });

  await c.step('hangup_with_waiters', async () => {
    const ending = call.waitForEnding();
    const ended = call.waitForEnded();
    const result = await c.within(call.hangup(), 10000, 'hangup');
    c.check(result.successful && result.reason === 'hangup', `hangup reason ${result.reason}`);
    c.check((await c.within(ending, 5000, 'waitForEnding')) === true, 'waitForEnding true');
    c.check((await c.within(ended, 5000, 'waitForEnded')) === true, 'waitForEnded true');
    c.check(
      JSON.stringify(stateLog) === JSON.stringify(['created', 'ringing', 'answered', 'ending', 'ended']),
      `state callbacks ${stateLog.join(',')}`,
    );
    c.check(call.ended && !call.active && !call.busy && !call.failed, 'ended getters');
    const late = await c.within(call.playTTS({ text: 'too late' }), 5000, 'play on an ended call');
    c.check(late.successful === false, 'play on an ended call fails');
  });

  // ---- more dials ------------------------------------------------------------------------------

  await c.step('dial_parallel_devices', async () => {
    const result = await c.within(
      client.calling.dial([
        { type: 'phone', from: FROM, to: PEER1 },
        { type: 'phone', from: FROM, to: PEER2 },
      ]),
      10000,
      'parallel dial',
    );
    c.check(result.successful && result.event.name === 'answered', `parallel dial ${result.event.name}`);
    const winner = result.call;
    c.check(typeof winner.id === 'string' && winner.to === PEER1, `winner ${winner.id} ${winner.to}`);
    // PROTOCOL.md §13.16: the winner's `answered` state may land on the duplicate leg object,
    // so the state of `result.call` is not checked here.
    const hung = await c.within(winner.hangup('cancel'), 10000, 'hangup winner');
    c.check(hung.successful && hung.reason === 'cancel', `winner hangup ${hung.reason}`);
  });

  await c.step('dial_serial_devices', async () => {
    const result = await c.within(
      client.calling.dial({ type: 'phone', from: FROM, to: PEER2 }, { type: 'sip', from: SIP_PEER.from, to: SIP_PEER.to }),
      10000,
      'serial dial',
    );
    c.check(result.successful, `serial dial ${result.event.name}`);
    c.check(result.call.to === PEER2, `first serial device answers: ${result.call.to}`);
    await c.within(result.call.hangup(), 10000, 'hangup serial dial');
  });

  await c.step('dial_scripted_no_answer', async () => {
    await c.control('next', { method: 'calling.dial', outcome: 'no_answer' });
    const call2 = client.calling.newCall({ type: 'phone', from: FROM, to: TO });
    const ringing = call2.waitForRinging();
    const answered = call2.waitForAnswered();
    const result = await c.within(call2.dial(), 10000, 'dial (scripted no_answer)');
    c.check(result.successful === false, 'no-answer dial not successful');
    // §7.2: the `ended` state terminates the dial before the `failed` dial event.
    c.check(result.event && result.event.name === 'ended', `dial event ${result.event && result.event.name}`);
    c.check(call2.state === 'ended' && !call2.busy, `state ${call2.state}`);
    c.check((await ringing) === true, 'it rang');
    c.check((await answered) === false, 'never answered: waitForAnswered false');
  });

  await c.step('connect_async_then_hangup', async () => {
    const activeCalls = async () => (await c.getControl('health')).active_calls;
    const before = await activeCalls();
    const dialed = await c.within(client.calling.dial({ type: 'phone', from: FROM, to: TO }), 10000, 'dial');
    const call4 = dialed.call;
    // Hang up while the peer still rings (both requests leave in the same tick): the connect
    // fails and the ringing leg is cancelled.
    const connecting = call4.connectAsync({ type: 'phone', to: PEER1 });
    const hanging = call4.hangup();
    const action = await c.within(connecting, 10000, 'connectAsync');
    const hung = await c.within(hanging, 10000, 'hangup while connecting');
    c.check(hung.successful && call4.state === 'ended', `hangup ${call4.state}`);
    c.check(action.completed && action.state === 'failed', `connect action ${action.state}`);
    c.check(action.result.event && action.result.event.name === 'failed', `connect event ${c.describe(action.result.event && action.result.event.name)}`);
    c.check(action.result.call === undefined, 'no peer');
    let now = await activeCalls();
    for (let i = 0; i < 50 && now !== before; i += 1) {
      await c.sleep(20);
      now = await activeCalls();
    }
    c.check(now === before, `no call left behind: active_calls ${before} -> ${now}`);
  });

  await c.step('far_end_hangup_ends_blocking_components', async () => {
    const dialed = await c.within(client.calling.dial({ type: 'phone', from: FROM, to: TO }), 10000, 'dial');
    const call3 = dialed.call;
    const started = c.deferred();
    call3.on('tap.tapping', () => started.resolve());
    // A detector whose only event is one the blocking form ignores: it runs until the call ends.
    await c.control('next', { method: 'calling.detect', outcome: 'NOT_READY' });
    const pending = {
      play: call3.playRingtone({ name: 'us', duration: 30 }),
      record: call3.record({ end_silence_timeout: 30 }),
      prompt: call3.promptRingtone({ name: 'us', duration: 30, digits_max: 2 }),
      detect: call3.detectAnsweringMachine({ timeout: 30 }),
      fax: call3.faxReceive(),
      tap: call3.tap({ audio_direction: 'listen', target_type: 'rtp', target_addr: '127.0.0.1', target_port: 4000 }),
    };
    // Requests are answered in order: once the tap runs, every earlier component does too.
    await c.within(started.promise, 5000, 'tap started');
    await c.sleep(100);
    const res = await c.control('end_call', { call_id: call3.id, reason: 'hangup' });
    c.check(res.ended === call3.id, c.describe(res));
    const names = Object.keys(pending);
    const results = await c.within(Promise.all(names.map((n) => pending[n])), 5000, 'blocking results');
    const r = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    // CONTROL_API.md: the call's end first sends each running component's terminal event.
    c.check(r.play.successful && r.play.event.name === 'finished', `play ${r.play.event && r.play.event.name}`);
    c.check(r.record.successful && typeof r.record.url === 'string', `record ${r.record.event && r.record.event.name}`);
    c.check(r.record.duration < 5, `record duration ${r.record.duration}`);
    c.check(!r.prompt.successful && r.prompt.type === 'error', `prompt ${r.prompt.type}`);
    c.check(!r.detect.successful && r.detect.event.name === 'finished', `detect ${r.detect.event && r.detect.event.name}`);
    c.check(!r.fax.successful && r.fax.event.name === 'finished', `fax ${r.fax.event && r.fax.event.name}`);
    c.check(r.tap.successful && r.tap.event.name === 'finished', `tap ${r.tap.event && r.tap.event.name}`);
    await waitUntil(() => call3.state === 'ended', 5000, `ended (${call3.state})`);
  });

  await c.step('pass_to_another_receiver', async () => {
    const clients = [0, 1].map(() => new RelayClient({ host: c.WS_URL, project: c.PROJECT, token: c.TOKEN }));
    await c.within(
      Promise.all(
        clients.map((cl) => {
          const ready = c.deferred();
          cl.on('signalwire.ready', () => ready.resolve());
          cl.connect();
          return ready.promise;
        }),
      ),
      10000,
      'two more clients ready',
    );
    const seen = [];
    const passed = c.deferred();
    const taken = c.deferred();
    await Promise.all(
      clients.map((cl, i) =>
        cl.calling.onReceive(['surface-pass'], async (inbound) => {
          seen.push({ i, id: inbound.id });
          try {
            if (seen.length === 1) passed.resolve(await inbound.pass());
            else taken.resolve({ inbound, answer: await inbound.answer() });
          } catch (err) {
            passed.reject(err);
            taken.reject(err);
          }
        }),
      ),
    );
    const res = await c.control('inbound_call', { context: 'surface-pass' });
    const pass = await c.within(passed.promise, 5000, 'pass');
    c.check(pass.successful && pass.event.name === 'response', `pass ${c.describe(pass.event)}`);
    const { inbound, answer } = await c.within(taken.promise, 5000, 'the other receiver gets the call');
    c.check(seen.length === 2 && seen[0].i !== seen[1].i, `receivers ${c.describe(seen)}`);
    c.check(inbound.id === res.call_id && seen[0].id === res.call_id, 'same call offered twice');
    c.check(answer.successful && inbound.state === 'answered', 'answered by the second receiver');
    const hung = await c.within(inbound.hangup(), 5000, 'hangup');
    c.check(hung.successful, 'hangup of the passed call');
    clients.forEach((cl) => cl.disconnect());
  });

  // ---- inbound on a consumer context -------------------------------------------------------

  await c.step('inbound_answer_hangup_busy', async () => {
    incomingWaiter = c.deferred();
    const res = await c.control('inbound_call', { context: CONTEXT, from: '+15551230021', to: '+15553210022' });
    const inbound = await c.within(incomingWaiter.promise, 5000, 'onIncomingCall');
    c.check(inbound.id === res.call_id && inbound.context === CONTEXT, `inbound ${inbound.id} ${inbound.context}`);
    c.check(inbound.from === '+15551230021' && inbound.to === '+15553210022', `${inbound.from} -> ${inbound.to}`);
    const answered = await c.within(inbound.answer(), 5000, 'answer');
    c.check(answered.successful && inbound.state === 'answered', `answered ${inbound.state}`);
    const hung = await c.within(inbound.hangup('busy'), 5000, 'hangup busy');
    c.check(hung.successful && hung.reason === 'busy', `hangup reason ${hung.reason}`);
    c.check(inbound.state === 'ended' && inbound.busy === true && inbound.failed === false, 'busy flag from end_reason');
  });

  await c.step('inbound_decline_unanswered', async () => {
    incomingWaiter = c.deferred();
    await c.control('inbound_call', { context: CONTEXT, type: 'sip', from: 'sip:caller@example.invalid', to: 'sip:surface@example.invalid' });
    const inbound = await c.within(incomingWaiter.promise, 5000, 'onIncomingCall (sip)');
    c.check(inbound.type === 'sip' && inbound.from === 'sip:caller@example.invalid', `sip inbound ${inbound.from}`);
    const hung = await c.within(inbound.hangup('decline'), 5000, 'hangup decline');
    c.check(hung.successful && hung.reason === 'decline', `decline reason ${hung.reason}`);
    c.check(inbound.state === 'ended', `state ${inbound.state}`);
    const gone = await c.request('POST', '/__control/end_call', { call_id: inbound.id });
    c.check(gone.status === 404, `end_call on the declined call -> ${gone.status}`);
  });

  c.done();
}

main().catch((err) => c.fail(c.describe(err)));
