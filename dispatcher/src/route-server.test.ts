import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { BodyBudget, TaskmeshError, silentLogger } from '@taskmesh/shared';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { TokenAuth } from './auth.js';
import { createRouteServer } from './route-server.js';
import type { Route } from './task-routes.js';
import { api, startDispatcher, type ApiAnswer } from './test-support.js';

/** A route server over recording routes; whatever it does not take is answered 418 here. */
async function routeServer(t: { after(fn: () => unknown): void }, token?: string): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/v1/tasks',
      body: 'json',
      handle: (req, reply) => {
        calls.push(`submit ${JSON.stringify(req.query.wait)} ${JSON.stringify(req.body)}`);
        reply.json(202, { ok: true });
      },
    },
    {
      method: 'POST',
      path: '/v1/tasks/batch',
      body: 'json',
      handle: (req) => {
        calls.push(`batch ${JSON.stringify(req.body)}`);
        throw new TaskmeshError('QUEUE_FULL', 'full');
      },
    },
    {
      method: 'GET',
      path: '/v1/tasks/:id',
      handle: (req, reply) => {
        calls.push(`get ${req.params.id} ${JSON.stringify(req.query.wait)}`);
        reply.json(200, { id: req.params.id });
      },
    },
    {
      method: 'POST',
      path: '/v1/tasks/:id/retry',
      body: 'optional',
      handle: (req, reply) => {
        calls.push(`retry ${req.params.id} ${JSON.stringify(req.body)}`);
        reply.json(202, {});
      },
    },
  ];
  const serve = createRouteServer({
    routes,
    auth: new TokenAuth(token),
    maxBodyBytes: 64,
    budget: new BodyBudget(64 * 1024 * 1024, 100),
    logger: silentLogger(),
  });
  const server = createServer((req, res) => {
    if (!serve(req, res)) res.writeHead(418).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

test('routes match as express matches them: any case, one trailing slash, decoded parameters, repeated query values', async (t) => {
  const { url, calls } = await routeServer(t);
  assert.equal((await api(url, '/v1/tasks?wait=5&x=1', { body: { a: 1 } })).status, 202);
  assert.equal((await api(url, '/v1/tasks', { raw: '', headers: { 'content-type': 'Application/JSON; Charset="UTF-8"' } })).status, 202);
  assert.equal((await api(url, '/V1/Tasks/', { body: { b: 2 } })).status, 202);
  assert.equal((await api(url, '/v1/tasks/a%20b?wait=1&wait=2')).status, 200);
  assert.equal((await api(url, '/v1/tasks/x/')).status, 200);
  assert.equal((await api(url, '/v1/tasks/q?wait=a+b%21&&wait=%E0%A4%A&wait')).status, 200);
  assert.equal((await api(url, '/v1/tasks/x/retry', { method: 'POST' })).status, 202);
  assert.equal((await api(url, '/v1/tasks/x/retry', { body: { maxAttempts: 2 } })).status, 202);
  const full = await api(url, '/v1/tasks/batch', { body: { tasks: [] } });
  assert.equal(full.status, 429);
  assert.equal(full.headers.get('retry-after'), '1');
  assert.equal(full.body.error.code, 'QUEUE_FULL');
  const badId = await api(url, '/v1/tasks/%E0%A4%A');
  assert.deepEqual([badId.status, badId.body.error.code], [400, 'INVALID_REQUEST']);
  assert.deepEqual(calls, [
    'submit "5" {"a":1}',
    'submit undefined {}',
    'submit undefined {"b":2}',
    'get a b ["1","2"]',
    'get x undefined',
    'get q ["a b!","%E0%A4%A",""]',
    'retry x undefined',
    'retry x {"maxAttempts":2}',
    'batch {"tasks":[]}',
  ]);

  // Another path or method is left to the next layer, untouched.
  for (const [path, method] of [
    ['/v1/tasks//', 'POST'],
    ['/v1/tasks/x/y', 'GET'],
    ['/v1/taskss', 'POST'],
    ['/v1/tasks/x', 'DELETE'],
    ['/v1/tasks', 'PUT'],
  ] as const) {
    assert.equal((await api(url, path, { method })).status, 418, `${method} ${path}`);
  }
  assert.equal(calls.length, 9);
});

test('bodies: JSON in UTF-8, any common coding; malformed 400, over the limit 413, another media type 415', async (t) => {
  const { url, calls } = await routeServer(t);
  const post = (body: Buffer | string, headers: Record<string, string>): Promise<Response> =>
    fetch(`${url}/v1/tasks`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = '{"coded":true}';
  assert.equal((await post(gzipSync(text), { 'content-encoding': 'gzip' })).status, 202);
  assert.equal((await post(deflateSync(text), { 'content-encoding': 'deflate' })).status, 202);
  assert.equal((await post(brotliCompressSync(text), { 'content-encoding': 'br' })).status, 202);
  assert.equal(calls.length, 3);

  const refusals: Array<[Buffer | string, Record<string, string>, number, string, RegExp]> = [
    ['{"type":', {}, 400, 'INVALID_REQUEST', /^malformed JSON body: /],
    [JSON.stringify({ text: 'x'.repeat(100) }), {}, 413, 'PAYLOAD_TOO_LARGE', /64 bytes \(TASKMESH_MAX_BODY_BYTES\)/],
    // Small on the wire, over the limit once decoded.
    [gzipSync(JSON.stringify({ text: 'x'.repeat(10_000) })), { 'content-encoding': 'gzip' }, 413, 'PAYLOAD_TOO_LARGE', /64 bytes/],
    ['not gzip at all', { 'content-encoding': 'gzip' }, 400, 'INVALID_REQUEST', /malformed gzip body/],
    ['{}', { 'content-encoding': 'x-unknown' }, 415, 'UNSUPPORTED_MEDIA_TYPE', /Content-Encoding "x-unknown"/],
    ['{}', { 'content-type': 'application/json; charset=latin1' }, 415, 'UNSUPPORTED_MEDIA_TYPE', /charset "latin1"/],
    ['a=1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE', /expected Content-Type/],
  ];
  for (const [body, headers, status, code, message] of refusals) {
    const res = await post(body, headers);
    const answer = (await res.json()) as { error: { code: string; message: string } };
    assert.deepEqual([res.status, answer.error.code], [status, code], JSON.stringify(headers));
    assert.match(answer.error.message, message);
  }
  const none = await api(url, '/v1/tasks', { raw: '{}' });
  assert.deepEqual([none.status, none.body.error.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
  // The connection is still good after all of them.
  assert.equal((await api(url, '/v1/tasks', { body: {} })).status, 202);
  assert.equal(calls.length, 4);
});

test('with a token set, a request without it is refused 401 before its body is read', async (t) => {
  const { url, calls } = await routeServer(t, 'sesame');
  const missing = await api(url, '/v1/tasks/x');
  assert.deepEqual([missing.status, missing.body.error.code], [401, 'UNAUTHORIZED']);
  assert.equal((await api(url, '/v1/tasks', { token: 'wrong', body: {} })).status, 401);
  assert.equal((await api(url, '/v1/tasks/x', { token: 'sesame' })).status, 200);
  assert.deepEqual(calls, ['get x undefined']);
});

// Against a real dispatcher: the canonical path and the same route spelt in capitals (matched
// case-insensitively, as express does) give the same answers.
let suite: LocalSuite;
before(async () => {
  suite = await startLocalSuite({ dispatcher: false });
});
after(async () => {
  await suite?.stop();
});

test('a route answers alike however its path is spelt', async (t) => {
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
