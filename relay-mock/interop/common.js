'use strict';
// Helpers shared by the interop scripts: the mock's address, the control API, steps and timeouts.
// Usage of every script: node <script>.js ws://127.0.0.1:PORT   (or env RELAY_MOCK_URL)

const http = require('http');

const WS_URL = process.argv[2] || process.env.RELAY_MOCK_URL || 'ws://127.0.0.1:8080';
const HTTP_BASE = WS_URL.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
const PROJECT = process.env.RELAY_MOCK_PROJECT || 'test-project';
const TOKEN = process.env.RELAY_MOCK_TOKEN || 'test-token';
const GLOBAL_TIMEOUT_MS = Number(process.env.RELAY_INTEROP_TIMEOUT_MS || 60000);

function fail(message) {
  process.stdout.write(`FAIL ${message}\n`);
  process.exit(1);
}

const globalTimer = setTimeout(() => {
  process.stdout.write(`FAIL global timeout after ${GLOBAL_TIMEOUT_MS} ms\n`);
  process.exit(2);
}, GLOBAL_TIMEOUT_MS);

process.on('unhandledRejection', (err) => fail(`unhandled rejection: ${describe(err)}`));
process.on('uncaughtException', (err) => fail(`uncaught exception: ${describe(err)}`));

function describe(value) {
  if (value instanceof Error) return value.stack || String(value);
  try {
    return JSON.stringify(value);
  } catch (_) {
    return String(value);
  }
}

// One HTTP/1.1 request to the mock; resolves {status, body} (body parsed as JSON when possible).
function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    const url = new URL(path, HTTP_BASE);
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: Object.assign(
          { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
          headers,
        ),
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch (_) {
            // keep the raw text
          }
          resolve({ status: res.statusCode, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

// POST /__control/<name>; any non-2xx fails the script.
async function control(name, body = {}) {
  const res = await request('POST', `/__control/${name}`, body);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`control ${name} -> ${res.status} ${describe(res.body)}`);
  }
  return res.body;
}

async function getControl(pathAndQuery) {
  const res = await request('GET', `/__control/${pathAndQuery}`);
  if (res.status !== 200) throw new Error(`GET ${pathAndQuery} -> ${res.status} ${describe(res.body)}`);
  return res.body;
}

// Runs one named step; prints `STEP <name> ok` or fails the script with the reason.
async function step(name, fn) {
  const started = Date.now();
  try {
    const value = await fn();
    process.stdout.write(`STEP ${name} ok (${Date.now() - started} ms)\n`);
    return value;
  } catch (err) {
    fail(`step ${name}: ${describe(err)}`);
    return undefined;
  }
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// A promise with its resolve/reject exposed, for SDK callbacks.
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function within(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)),
  ]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function done() {
  clearTimeout(globalTimer);
  process.stdout.write('ALL ok\n');
  // The SDK keeps timers (keepalive, request timeouts) alive; exit explicitly.
  process.exit(0);
}

// The SDK logs through console.info/debug/log; send that chatter to stderr with a prefix so stdout
// holds only our STEP lines. Must run before the SDK is required (loglevel binds console methods).
function quietSdk() {
  for (const level of ['info', 'debug', 'log', 'warn', 'error']) {
    console[level] = (...args) => process.stderr.write(`  sdk ${level}| ${args.map((a) => (typeof a === 'string' ? a : describe(a))).join(' ')}\n`);
  }
}

module.exports = {
  WS_URL,
  HTTP_BASE,
  PROJECT,
  TOKEN,
  request,
  control,
  getControl,
  step,
  check,
  deferred,
  within,
  sleep,
  done,
  fail,
  describe,
  quietSdk,
};
