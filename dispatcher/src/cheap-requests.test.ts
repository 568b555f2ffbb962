import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { brotliCompressSync } from 'node:zlib';
import { startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { api, eventually, rawRequest } from './test-support.js';

/**
 * Requests that cost the sender a few bytes and the service a great deal, each against a real
 * dispatcher process: the service must answer them at once, keep answering a tiny request while
 * they run, hold no more than its bounds say (through its own counters) and stay the same process.
 */
const TOKEN = 'cheap-requests-token';
/** What a tiny request may wait while an attack runs; the attacks below held the loop for seconds. */
const PROBE_BOUND_MS = 2000;

let suite: LocalSuite;
let base: string;
let dispatcher: RunningService;

before(async () => {
  suite = await startLocalSuite({
    workers: ['reverse'],
    dispatcher: true,
    dispatcherEnv: {
      TASKMESH_API_TOKEN: TOKEN,
      TASKMESH_HTTP_BODY_BUDGET_BYTES: String(16 * 1024 * 1024),
      TASKMESH_HTTP_REQUEST_TIMEOUT_MS: '1500',
      TASKMESH_HTTP_HEADERS_TIMEOUT_MS: '1500',
      TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT: '60',
    },
  });
  base = suite.dispatcherUrl!;
  dispatcher = suite.dispatcher!;
});
after(() => suite?.stop());

const auth = { authorization: `Bearer ${TOKEN}` };

/** Milliseconds a tiny authenticated request takes to be answered. */
async function probe(): Promise<number> {
  const started = performance.now();
  const r = await api(base, '/v1/stats', { token: TOKEN });
  assert.equal(r.status, 200);
  return performance.now() - started;
}

/** The same process still serves and still runs a task end to end. */
async function stillServing(): Promise<void> {
  assert.equal(dispatcher.proc.exitCode, null, 'the dispatcher exited');
  assert.equal(dispatcher.proc.signalCode, null, 'the dispatcher was killed');
  const r = await api(base, '/v1/tasks?wait=10000', { token: TOKEN, body: { type: 'reverse', payload: { text: 'still here' } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.result, { text: 'ereh llits' });
}

async function healthz(): Promise<{ http: { connections: number; bodyBytesInFlight: number; timedOut: number; refused: any } }> {
  return (await api(base, '/healthz')).body;
}

const rssBytes = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
};

/**
 * A raw connection with the request's head (and what of its body is given) written, held open;
 * from 127.0.0.2, a client of this host other than its own 127.0.0.1 (which no per-client cap
 * counts).
 */
function holdOpen(head: string, body?: Buffer, from = '127.0.0.2'): Promise<{ socket: Socket; answer: Promise<string> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(url.port), host: url.hostname, localAddress: from }, () => {
      socket.write(head);
      if (body !== undefined) socket.write(body);
      let text = '';
      const answer = new Promise<string>((done) => {
        socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
        socket.on('close', () => done(text));
        socket.on('error', () => done(text));
      });
      resolve({ socket, answer });
    });
    socket.once('error', reject);
  });
}

describe('CPU: a few bytes never buy seconds of the event loop', () => {
  test('a sum of 333,000 bad elements is refused after the first few, while a tiny request is answered at once', async () => {
    const body = JSON.stringify({ type: 'sum', payload: { numbers: new Array(333_000).fill([]) } });
    const started = performance.now();
    const attack = api(base, '/v1/tasks', { token: TOKEN, raw: body, headers: { 'content-type': 'application/json' } });
    const probes = await Promise.all([probe(), new Promise((r) => setTimeout(r, 50)).then(probe)]);
    const answer = await attack;
    const tookMs = performance.now() - started;
    for (const ms of probes) assert.ok(ms < PROBE_BOUND_MS, `a tiny request waited ${ms.toFixed(0)} ms`);
    assert.ok(tookMs < 3000, `answered in ${tookMs.toFixed(0)} ms`);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error.code, 'INVALID_PAYLOAD');
    assert.match(answer.body.error.message, /numbers\[0\]: expected a finite number or an integer string, got an array/);
    assert.ok(answer.body.error.details.fields.length <= 5, 'only the first few fields are named');
    await stillServing();
  });

  test('the same attack compressed to a few dozen bytes is refused as an inflation past TASKMESH_HTTP_MAX_INFLATION', async () => {
    const body = brotliCompressSync(JSON.stringify({ type: 'sum', payload: { numbers: new Array(333_000).fill([]) } }));
    assert.ok(body.length < 200, `${body.length} bytes of brotli`);
    const r = await rawRequest(base, {
      method: 'POST',
      path: '/v1/tasks',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'br', 'content-length': String(body.length) },
      body,
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(r.body.error.details.limit, 'TASKMESH_HTTP_MAX_INFLATION');
    assert.ok((await healthz()).http.refused.bodies.inflation >= 1);
  });

  test('a bearer header of 16,000 spaces is refused without backtracking, while a tiny request is answered at once', async () => {
    const evil = `bearer a${' '.repeat(16_200)}x`;
    const started = performance.now();
    const attacks = Array.from({ length: 8 }, () => rawRequest(base, { path: '/v1/stats', headers: { authorization: evil } }));
    const ms = await probe();
    const answers = await Promise.all(attacks);
    const tookMs = performance.now() - started;
    for (const a of answers) assert.equal(a.status, 401);
    assert.ok(ms < PROBE_BOUND_MS, `a tiny request waited ${ms.toFixed(0)} ms`);
    assert.ok(tookMs < 2000, `eight refusals took ${tookMs.toFixed(0)} ms`);
    await stillServing();
  });
});

describe('memory: bodies in flight are bounded in total, not per connection', () => {
  test('200 connections of 28 bytes of brotli that decode to 5 MiB, each declaring more than it sends: refused at once, memory flat', async () => {
    const bomb = brotliCompressSync(Buffer.alloc(5 * 1024 * 1024, ' '));
    assert.ok(bomb.length < 64, `${bomb.length} bytes of brotli`);
    const before = rssBytes(dispatcher.proc.pid!);
    const head = [
      'POST /v1/tasks HTTP/1.1',
      `Host: ${new URL(base).host}`,
      `Authorization: Bearer ${TOKEN}`,
      'Content-Type: application/json',
      'Content-Encoding: br',
      'Content-Length: 10000000',
      '',
      '',
    ].join('\r\n');
    const held: Array<{ socket: Socket; answer: Promise<string> }> = [];
    // In four waves under the per-client connection cap, as four clients would.
    for (let wave = 0; wave < 4; wave++) {
      const opened = await Promise.all(Array.from({ length: 50 }, () => holdOpen(head, bomb)));
      held.push(...opened);
      const answers = await Promise.all(opened.map((h) => h.answer));
      // Each refused at once: decoded past the inflation cap, or its decoder's window (4 MiB)
      // not in the body budget (16 MiB) while others decode.
      for (const text of answers)
        assert.match(text, /^HTTP\/1\.1 (413 .*TASKMESH_HTTP_MAX_INFLATION|503 .*BODY_BUDGET_FULL)/s, text.slice(0, 300));
      assert.ok(answers.some((text) => text.startsWith('HTTP/1.1 413 ')));
    }
    const grew = rssBytes(dispatcher.proc.pid!) - before;
    assert.ok(grew < 150 * 1024 * 1024, `RSS grew by ${(grew / 1048576).toFixed(0)} MiB`);
    const { http } = await healthz();
    assert.equal(http.bodyBytesInFlight, 0);
    for (const h of held) h.socket.destroy();
    await stillServing();
  });

  test('slow bodies hold at most TASKMESH_HTTP_BODY_BUDGET_BYTES between them; past it 503 BODY_BUDGET_FULL; a body that never ends times out', async () => {
    const chunk = Buffer.from(`{"type":"reverse","payload":{"text":"${'x'.repeat(3 * 1024 * 1024)}`);
    const head = (length: number): string =>
      [
        'POST /v1/tasks HTTP/1.1',
        `Host: ${new URL(base).host}`,
        `Authorization: Bearer ${TOKEN}`,
        'Content-Type: application/json',
        `Content-Length: ${length}`,
        '',
        '',
      ].join('\r\n');
    // Each sends 3 MiB of a 5 MiB body and stops: the budget of 16 MiB holds five, not eight.
    const held = await Promise.all(Array.from({ length: 8 }, () => holdOpen(head(5 * 1024 * 1024), chunk)));
    await eventually('the bodies to be read as far as they came', async () => (await healthz()).http.refused.bodies.budget >= 2, {
      timeoutMs: 5000,
      intervalMs: 20,
    });
    const { http } = await healthz();
    assert.ok(http.bodyBytesInFlight <= 16 * 1024 * 1024, `${http.bodyBytesInFlight} bytes in flight`);
    const answers = await Promise.all(held.map((h) => h.answer));
    const budgetFull = answers.filter((a) => /^HTTP\/1\.1 503 /.test(a) && a.includes('BODY_BUDGET_FULL'));
    const timedOut = answers.filter((a) => (/^HTTP\/1\.1 408 /.test(a) && a.includes('"code":"REQUEST_TIMEOUT"')) || a === '');
    assert.ok(budgetFull.length >= 2, `${budgetFull.length} refused for the budget`);
    assert.equal(budgetFull.length + timedOut.length, 8, answers.map((a) => a.slice(0, 40)).join(' | '));
    await eventually('the budget given back', async () => (await healthz()).http.bodyBytesInFlight === 0, { timeoutMs: 5000 });
    assert.ok((await healthz()).http.timedOut >= 1, 'the held bodies timed out');
    const metrics = (await api<string>(base, '/metrics', { token: TOKEN })).body;
    assert.match(metrics, /taskmesh_dispatcher_http_refused_total\{limit="TASKMESH_HTTP_BODY_BUDGET_BYTES"\} [1-9]/);
    await stillServing();
  });
});

describe('connections: bounded per client and in all', () => {
  test('past TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT a connection is answered 503 naming it and closed; the others keep working', async () => {
    const url = new URL(base);
    const idle: Socket[] = [];
    for (let i = 0; i < 60; i++) {
      idle.push(
        await new Promise<Socket>((resolve) => {
          const s = connect({ port: Number(url.port), host: url.hostname, localAddress: '127.0.0.2' }, () => resolve(s));
        }),
      );
    }
    const refused = await holdOpen(`GET /v1/stats HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    const text = await refused.answer;
    assert.match(text, /^HTTP\/1\.1 503 /);
    assert.match(text, /"code":"TOO_MANY_CONNECTIONS"/);
    assert.match(text, /TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT/);
    // Another client of this host is not refused for this one's connections.
    const other = await holdOpen(
      `GET /v1/stats HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`,
      undefined,
      '127.0.0.3',
    );
    assert.match(await other.answer, /^HTTP\/1\.1 200 /);
    for (const s of idle) s.destroy();
    const metrics = (await api<string>(base, '/metrics', { token: TOKEN })).body;
    assert.match(metrics, /taskmesh_dispatcher_http_refused_total\{limit="TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT"\} [1-9]/);
    await stillServing();
  });

  test('a connection that sends no complete head is cut off by TASKMESH_HTTP_HEADERS_TIMEOUT_MS', async () => {
    const url = new URL(base);
    const slow = await holdOpen(`GET /v1/stats HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `);
    const started = performance.now();
    await slow.answer;
    assert.ok(performance.now() - started < 10_000, 'closed well before Node’s default of 60 s');
  });
});
