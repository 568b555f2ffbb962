import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { api, eventually, rawRequest } from './test-support.js';

/**
 * The cases of the hardening issue, each against a real dispatcher process: the hostile request
 * first, then the proof that the same process (same pid) is still up and still runs a task.
 */
let suite: LocalSuite;
let base: string;
let dispatcher: RunningService;

before(async () => {
  suite = await startLocalSuite({
    workers: ['reverse', 'wait'],
    dispatcher: true,
    dispatcherEnv: {
      TASKMESH_TASK_RETENTION_BYTES: String(8 * 1024 * 1024),
      TASKMESH_MAX_EVENT_SUBSCRIBERS: '6',
      TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT: '3',
      TASKMESH_MAX_IMAGE_STREAMS: '0',
      TASKMESH_MAX_LONG_POLLS: '2',
      TASKMESH_EVENTS_BACKLOG_BYTES: '65536',
    },
  });
  base = suite.dispatcherUrl!;
  dispatcher = suite.dispatcher!;
});
after(() => suite?.stop());

/** The dispatcher that was started is the one answering, and it still runs a task end to end. */
async function stillServing(): Promise<void> {
  assert.equal(dispatcher.proc.exitCode, null, 'the dispatcher exited');
  assert.equal(dispatcher.proc.signalCode, null, 'the dispatcher was killed');
  const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'still here' } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.result, { text: 'ereh llits' });
}

/** A payload nested `depth` levels deep, written as text (JSON.stringify would overflow first). */
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** The value of a series in /metrics. */
async function metric(name: string): Promise<number> {
  const text = (await api<string>(base, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

describe('payloads are checked where they enter', () => {
  test('a payload nested 10,000 deep is 413 naming the limit, with and without ?wait; nothing is stored', async () => {
    for (const path of ['/v1/tasks?wait=5000', '/v1/tasks']) {
      const raw = `{"type":"reverse","payload":{"text":${nested(10_000)}}}`;
      const r = await api(base, path, { raw, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 413, path);
      assert.equal(r.body.error.code, 'PAYLOAD_TOO_LARGE');
      assert.match(r.body.error.message, /TASKMESH_MAX_PAYLOAD_DEPTH/);
    }
    const batch = await api(base, '/v1/tasks/batch', {
      raw: `{"tasks":[{"type":"reverse","payload":{"text":"a"}},{"type":"reverse","payload":${nested(10_000)}}]}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(batch.status, 413);
    assert.match(batch.body.error.message, /^tasks\.1\./);
    const failed = await api(base, '/v1/tasks?status=failed');
    assert.equal(failed.status, 200);
    await stillServing();
  });

  test('an invalid payload is 400 INVALID_PAYLOAD naming the field, before anything is stored', async () => {
    const before = (await api(base, '/v1/stats')).body;
    const r = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: -5 } } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_PAYLOAD');
    assert.match(r.body.error.message, /ms: .*>=0/);
    assert.deepEqual(r.body.error.details.fields, ['ms']);
    const inBatch = await api(base, '/v1/tasks/batch', {
      body: {
        tasks: [
          { type: 'wait', payload: { ms: 1 } },
          { type: 'hash', payload: { text: 'x', algorithm: 'crc32' } },
        ],
      },
    });
    assert.equal(inBatch.status, 400);
    assert.deepEqual(inBatch.body.error.details.fields, ['tasks.1.payload.algorithm']);
    const after = (await api(base, '/v1/stats')).body;
    assert.deepEqual(after.byType?.wait ?? null, before.byType?.wait ?? null, 'no wait task was created');
    await stillServing();
  });

  test('a payload over TASKMESH_MAX_PAYLOAD_BYTES is 413 naming the limit', async () => {
    const r = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'x'.repeat(1024 * 1024 + 1) } } });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(r.body.error.details.limit, 'TASKMESH_MAX_PAYLOAD_BYTES');
    await stillServing();
  });
});

describe('memory is bounded by bytes', () => {
  test('retention holds its byte bound under 1 MB payloads; the oldest finished tasks go first', async () => {
    const text = 'ab'.repeat(500_000);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await api(base, '/v1/tasks?wait=20000', { body: { type: 'reverse', payload: { text } } });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'succeeded');
      ids.push(r.body.id);
    }
    const retained = await metric('taskmesh_dispatcher_retained_task_bytes');
    assert.ok(retained > 0 && retained <= 8 * 1024 * 1024, `retained ${retained} bytes`);
    // The oldest left memory; it is still readable, from the journal.
    const oldest = await api(base, `/v1/tasks/${ids[0]}`);
    assert.equal(oldest.status, 200);
    assert.equal(oldest.body.status, 'succeeded');
    assert.equal((await api(base, `/v1/tasks/${ids.at(-1)}`)).status, 200, 'the newest is kept');
    const list = await api(base, '/v1/tasks?limit=5');
    assert.equal(list.body.tasks[0].payload, undefined, 'lists leave payloads out');
    assert.ok(list.body.tasks[0].payloadBytes > 1_000_000);
    const full = await api(base, '/v1/tasks?limit=1&full=1');
    assert.equal(typeof full.body.tasks[0].payload.text, 'string');
    await stillServing();
  });
});

describe('connections are bounded, slow readers handled', () => {
  const eventsUrl = (): string => `${base.replace('http', 'ws')}/v1/events`;
  const upgradeRefusal = (url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => {
        ws.close();
        reject(new Error('the upgrade was accepted'));
      });
      ws.on('error', () => undefined);
    });

  test('event subscribers past the per-client cap are refused with 503 TOO_MANY_SUBSCRIBERS', async () => {
    const open: WebSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(eventsUrl());
        await once(ws, 'open');
        open.push(ws);
      }
      const refused = await upgradeRefusal(eventsUrl());
      assert.equal(refused.status, 503);
      assert.equal(JSON.parse(refused.body).error.code, 'TOO_MANY_SUBSCRIBERS');
      assert.match(JSON.parse(refused.body).error.message, /TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT/);
    } finally {
      for (const ws of open) ws.close();
    }
    await eventually('the subscribers to be gone', async () =>
      (await api(base, '/v1/stats')).body.eventSubscribers === 0 ? true : undefined,
    );
    await stillServing();
  });

  test('image streams past TASKMESH_MAX_IMAGE_STREAMS are refused with 503 TOO_MANY_STREAMS', async () => {
    const refused = await upgradeRefusal(`${base.replace('http', 'ws')}/v1/stream/image?fps=1`);
    assert.equal(refused.status, 503);
    assert.equal(JSON.parse(refused.body).error.code, 'TOO_MANY_STREAMS');
    await stillServing();
  });

  test('long-polls past TASKMESH_MAX_LONG_POLLS are 503 TOO_MANY_LONG_POLLS; a submit with ?wait is still accepted', async () => {
    const task = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: 3000 } } });
    const held = [api(base, `/v1/tasks/${task.body.id}?wait=10000`), api(base, `/v1/tasks/${task.body.id}?wait=10000`)];
    await eventually('two long-polls held', async () => ((await api(base, '/v1/stats')).body.longPolls === 2 ? true : undefined));
    const third = await api(base, `/v1/tasks/${task.body.id}?wait=10000`);
    assert.equal(third.status, 503);
    assert.equal(third.body.error.code, 'TOO_MANY_LONG_POLLS');
    const submit = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'ok' } } });
    assert.equal(submit.status, 202, 'accepted, answered at once');
    for (const r of await Promise.all(held)) assert.equal(r.body.status, 'succeeded');
    await stillServing();
  });

  test('a subscriber that stops reading is closed past the backlog bound, counted, never left to grow', async () => {
    // A raw WebSocket handshake on a socket that is then never read from.
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await once(socket, 'data');
    socket.pause();
    const closed = once(socket, 'close');
    const before = await metric('taskmesh_dispatcher_event_subscribers_closed_slow_total');
    // Events of large batches, until the dispatcher gives up on the reader.
    for (let round = 0; round < 100; round++) {
      const tasks = Array.from({ length: 500 }, (_, i) => ({ type: 'reverse', payload: { text: `slow reader ${round}-${i}` } }));
      assert.equal((await api(base, '/v1/tasks/batch', { body: { tasks } })).status, 202);
      if ((await metric('taskmesh_dispatcher_event_subscribers_closed_slow_total')) > before) break;
    }
    assert.equal(await metric('taskmesh_dispatcher_event_subscribers_closed_slow_total'), before + 1);
    socket.resume();
    await closed;
    assert.equal((await api(base, '/v1/stats')).body.eventSubscribers, 0);
    await stillServing();
  });
});

describe('the HTTP edge refuses what a browser turned against it would send', () => {
  test('a WebSocket with a foreign Origin is refused 403; the same origin and no Origin are taken', async () => {
    const refusal = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/events`, { headers: { origin: 'http://evil.example' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    assert.equal(refusal, 403);
    const same = new WebSocket(`${base.replace('http', 'ws')}/v1/events`, { headers: { origin: base } });
    await once(same, 'open');
    same.close();
    await stillServing();
  });

  test('a Host that is not this service (DNS rebinding) is 403; IP addresses, localhost and service names pass', async () => {
    const refused = await rawRequest(base, { path: '/v1/stats', headers: { host: 'attacker.example' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'FORBIDDEN');
    assert.match(refused.body.error.message, /TASKMESH_ALLOWED_HOSTS/);
    const fast = await rawRequest(base, {
      method: 'POST',
      path: '/v1/tasks',
      headers: { host: 'attacker.example', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'reverse', payload: { text: 'x' } }),
    });
    assert.equal(fast.status, 403, 'the fast lane refuses it too');
    for (const host of ['127.0.0.1:7200', 'localhost', 'dispatcher:7200', '[::1]:7200']) {
      assert.equal((await rawRequest(base, { path: '/v1/stats', headers: { host } })).status, 200, host);
    }
    await stillServing();
  });

  test('malformed percent-encoding is 400 INVALID_REQUEST, logged without a stack', async () => {
    const r = await rawRequest(base, { path: '/v1/tasks/%E0%A4%A' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_REQUEST');
    const del = await rawRequest(base, { method: 'DELETE', path: '/v1/tasks/%E0%A4%A' });
    assert.equal(del.status, 400);
    assert.ok(!dispatcher.lines.some((l) => l.level === 'error'), 'no error-level log line');
    await stillServing();
  });

  test('an idempotency key reused for another request is 409 IDEMPOTENCY_CONFLICT; the same request gets the stored task', async () => {
    const first = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'mine' }, idempotencyKey: 'hardening-key' } });
    assert.equal(first.status, 202);
    const same = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'mine' }, idempotencyKey: 'hardening-key' } });
    assert.equal(same.status, 200);
    assert.equal(same.body.id, first.body.id);
    const other = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'theirs' }, idempotencyKey: 'hardening-key' } });
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, 'IDEMPOTENCY_CONFLICT');
    assert.ok(!JSON.stringify(other.body).includes('mine'), 'nothing of the first request is shown');
    const otherType = await api(base, '/v1/tasks', { body: { type: 'upper', payload: { text: 'mine' }, idempotencyKey: 'hardening-key' } });
    assert.equal(otherType.status, 409);
    await stillServing();
  });
});
