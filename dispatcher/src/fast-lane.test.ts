import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TaskmeshError, silentLogger } from '@taskmesh/shared';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { TokenAuth } from './auth.js';
import { createFastLane } from './fast-lane.js';
import type { Reply, TaskHandlers } from './task-handlers.js';
import { api, startDispatcher, type ApiAnswer } from './test-support.js';

/** A fast lane over recording handlers; whatever it does not take is answered 418 here. */
async function laneServer(t: { after(fn: () => unknown): void }, token?: string): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const handlers = {
    submit: (wait: unknown, body: unknown, reply: Reply) => {
      calls.push(`submit ${JSON.stringify(wait)} ${JSON.stringify(body)}`);
      reply.json(202, { ok: true });
    },
    submitBatch: (body: unknown, _reply: Reply) => {
      calls.push(`batch ${JSON.stringify(body)}`);
      throw new TaskmeshError('QUEUE_FULL', 'full');
    },
    get: (id: string, wait: unknown, reply: Reply) => {
      calls.push(`get ${id} ${JSON.stringify(wait)}`);
      reply.json(200, { id });
    },
  } as unknown as TaskHandlers;
  const lane = createFastLane({ handlers, auth: new TokenAuth(token), maxBodyBytes: 64, logger: silentLogger() });
  const server = createServer((req, res) => {
    if (!lane(req, res)) res.writeHead(418).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

test('the fast lane takes only the canonical routes with a plain JSON body', async (t) => {
  const { url, calls } = await laneServer(t);
  const json = { 'content-type': 'application/json' };
  assert.equal((await api(url, '/v1/tasks?wait=5&x=1', { body: { a: 1 } })).status, 202);
  assert.equal((await api(url, '/v1/tasks', { raw: '', headers: { 'content-type': 'Application/JSON; Charset="UTF-8"' } })).status, 202);
  assert.equal((await api(url, '/v1/tasks/a%20b?wait=1&wait=2')).status, 200);
  const full = await api(url, '/v1/tasks/batch', { body: { tasks: [] } });
  assert.equal(full.status, 429);
  assert.equal(full.headers.get('retry-after'), '1');
  assert.equal(full.body.error.code, 'QUEUE_FULL');
  assert.deepEqual(calls, ['submit "5" {"a":1}', 'submit undefined {}', 'get a b ["1","2"]', 'batch {"tasks":[]}']);

  // Everything else is left to express, untouched.
  const declined: Array<[string, Parameters<typeof api>[2]]> = [
    ['/V1/tasks', { body: {} }],
    ['/v1/tasks/', { body: {} }],
    ['/v1/tasks/x/', {}],
    ['/v1/tasks/%E0%A4%A', {}],
    ['/v1/tasks/x/retry', { body: {} }],
    ['/v1/tasks', { raw: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['/v1/tasks', { raw: '{}', headers: { 'content-type': 'application/json; charset=latin1' } }],
    ['/v1/tasks', { raw: '{}', headers: { ...json, 'content-encoding': 'gzip' } }],
    ['/v1/tasks', { raw: '{}' }],
    ['/v1/tasks/x', { method: 'DELETE' }],
  ];
  for (const [path, init] of declined) assert.equal((await api(url, path, init)).status, 418, path);
  assert.equal(calls.length, 4);
});

test('the fast lane refuses bodies as express.json would: malformed 400, over the limit 413', async (t) => {
  const { url, calls } = await laneServer(t);
  const bad = await api(url, '/v1/tasks', { raw: '{"type":', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_REQUEST');
  assert.match(bad.body.error.message, /^malformed JSON body: /);
  const big = await api(url, '/v1/tasks', { body: { text: 'x'.repeat(100) } });
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
  // The connection is still good after both.
  assert.equal((await api(url, '/v1/tasks', { body: {} })).status, 202);
  assert.equal(calls.length, 1);
});

test('with a token set, only a request carrying it takes the fast lane', async (t) => {
  const { url, calls } = await laneServer(t, 'sesame');
  assert.equal((await api(url, '/v1/tasks/x')).status, 418);
  assert.equal((await api(url, '/v1/tasks/x', { token: 'wrong' })).status, 418);
  assert.equal((await api(url, '/v1/tasks/x', { token: 'sesame' })).status, 200);
  assert.deepEqual(calls, ['get x undefined']);
});

// Against a real dispatcher: the fast lane (canonical path) and express (the same route spelt in
// capitals, which express matches case-insensitively) give the same answers.
let suite: LocalSuite;
before(async () => {
  suite = await startLocalSuite({ dispatcher: false });
});
after(async () => {
  await suite?.stop();
});

test('fast lane and express answer alike', async (t) => {
  const d = await startDispatcher(t, suite.nameserviceUrl, { apiToken: 'tok', maxBodyBytes: 1024 });
  const strip = (a: ApiAnswer): unknown => ({ status: a.status, type: a.headers.get('content-type'), body: a.body });
  const both = async (path: string, init: Parameters<typeof api>[2]): Promise<void> => {
    const fast = await api(d.url, path, { token: 'tok', ...init });
    const slow = await api(d.url, path.replace('/v1/tasks', '/V1/TASKS'), { token: 'tok', ...init });
    assert.deepEqual(strip(fast), strip(slow), path);
  };
  await both('/v1/tasks', { body: { payload: {}, maxAttempts: 0 } });
  await both('/v1/tasks', { body: { type: 'frobnicate', payload: {} } });
  await both('/v1/tasks?wait=soon', { body: { type: 'reverse', payload: { text: 'x' } } });
  await both('/v1/tasks', { body: { type: 'reverse', payload: { text: 'x'.repeat(2000) } } });
  await both('/v1/tasks/batch', {
    body: {
      tasks: [
        { type: 'reverse', payload: {} },
        { type: 'nope', payload: {} },
      ],
    },
  });
  await both('/v1/tasks/batch', { body: { tasks: 'none' } });
  await both('/v1/tasks', { raw: '{"type":', headers: { 'content-type': 'application/json' } });
  await both('/v1/tasks', { raw: '', headers: { 'content-type': 'application/json' } });
  await both('/v1/tasks/unknown-id', {});
  await both('/v1/tasks/unknown-id?wait=10', {});
  const created = await api(d.url, '/v1/tasks', {
    token: 'tok',
    body: { type: 'reverse', payload: { text: 'same' }, idempotencyKey: 'k1' },
  });
  assert.equal(created.status, 202);
  await both('/v1/tasks', { body: { type: 'reverse', payload: { text: 'same' }, idempotencyKey: 'k1' } });
  await both('/v1/tasks', { body: { type: 'upper', payload: { text: 'same' }, idempotencyKey: 'k1' } });
  await both(`/v1/tasks/${created.body.id}`, {});
});
