import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_SECRET, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { createDispatcher, type Dispatcher, type DispatcherOptions } from './index.js';
import { api, openSocket, startDispatcher, type ApiAnswer } from './test-support.js';

// Dispatchers started in-process (port 0) against a real nameservice, with small limits and a token.
let suite: LocalSuite;

before(async () => {
  suite = await startLocalSuite({ dispatcher: false });
});

after(async () => {
  await suite?.stop();
});

const start = (t: { after: (fn: () => Promise<void>) => void }, options: Partial<DispatcherOptions>): Promise<Dispatcher> =>
  startDispatcher(t, suite.nameserviceUrl, options);

test('pending queue full: 429 QUEUE_FULL with Retry-After; batches are all or none', async (t) => {
  const d = await start(t, { pendingLimit: 3 });
  const submit = (): Promise<ApiAnswer> => api(d.url, '/v1/tasks', { body: { type: 'sum', payload: { numbers: [1] }, timeoutMs: 60_000 } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await submit();
    assert.equal(r.status, 202);
    assert.equal(r.body.status, 'queued');
    ids.push(r.body.id);
  }
  const full = await submit();
  assert.equal(full.status, 429);
  assert.equal(full.body.error.code, 'QUEUE_FULL');
  assert.ok(Number(full.headers.get('retry-after')) >= 1);
  const health = await api(d.url, '/healthz');
  assert.equal(health.body.pending, 3);

  // Cancelling one frees one slot: a batch of two still does not fit, a batch of one does.
  assert.equal((await api(d.url, `/v1/tasks/${ids[0]}`, { method: 'DELETE' })).body.status, 'cancelled');
  const two = await api(d.url, '/v1/tasks/batch', {
    body: {
      tasks: [
        { type: 'sum', payload: { numbers: [1] } },
        { type: 'sum', payload: { numbers: [1] } },
      ],
    },
  });
  assert.equal(two.status, 429);
  assert.equal((await api(d.url, '/healthz')).body.pending, 2);
  const one = await api(d.url, '/v1/tasks/batch', { body: { tasks: [{ type: 'sum', payload: { numbers: [1] } }] } });
  assert.equal(one.status, 202);
  assert.equal((await api(d.url, '/healthz')).body.pending, 3);
});

test('a waiting task times out with TIMEOUT naming where it waited', async (t) => {
  const d = await start(t, {});
  const r = await api(d.url, '/v1/tasks?wait=5000', { body: { type: 'hash', payload: { text: 'x' }, timeoutMs: 100 } });
  assert.equal(r.status, 200);
  assert.equal(r.body.status, 'failed');
  assert.equal(r.body.error.code, 'TIMEOUT');
  assert.match(r.body.error.message, /waiting for a worker/);
  assert.equal(r.body.attempts, 0);
});

test('TASKMESH_TASK_TYPES limits the known types', async (t) => {
  const d = await start(t, { taskTypes: ['reverse'] });
  const r = await api(d.url, '/v1/tasks', { body: { type: 'hash', payload: {} } });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'UNKNOWN_TYPE');
  assert.deepEqual(r.body.error.details.knownTypes, ['reverse']);
});

test('the bearer token is enforced on the API and WebSockets; /healthz stays open', async (t) => {
  const token = 's3cret-token';
  const d = await start(t, { apiToken: token });
  const none = await api(d.url, '/v1/tasks');
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'UNAUTHORIZED');
  assert.equal((await api(d.url, '/v1/tasks', { token: 'wrong' })).status, 401);
  assert.equal((await api(d.url, '/metrics')).status, 401);
  assert.equal((await api(d.url, '/v1/tasks', { token })).status, 200);
  assert.equal((await api(d.url, '/v1/tasks', { token, body: { type: 'hash', payload: { text: 'a' } } })).status, 202);
  assert.equal((await api(d.url, '/healthz')).status, 200);

  const ws = d.url.replace('http', 'ws');
  await assert.rejects(openSocket(`${ws}/v1/events`), (err: { statusCode?: number }) => err.statusCode === 401);
  await assert.rejects(openSocket(`${ws}/v1/events?token=wrong`), (err: { statusCode?: number }) => err.statusCode === 401);
  (await openSocket(`${ws}/v1/events?token=${token}`)).close();
  (await openSocket(`${ws}/v1/events`, { authorization: `Bearer ${token}` })).close();
});

test('close() is idempotent and frees the port', async () => {
  const d = await createDispatcher({ nameserviceUrl: suite.nameserviceUrl, secret: TEST_SECRET, host: '127.0.0.1', port: 0 });
  await Promise.all([d.close(), d.close()]);
  await assert.rejects(fetch(`${d.url}/healthz`));
});

test('a payload the transport cannot carry to a worker is 413 at submit, even under a larger payload limit', async (t) => {
  const d = await start(t, { maxPayloadBytes: 8 * 1024 * 1024, maxBodyBytes: 10 * 1024 * 1024 });
  const r = await api(d.url, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'x'.repeat(4_500_000) } } });
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(r.body.error.details.limit, 'transport');
  assert.match(r.body.error.message, /cannot reach a worker/);
  assert.equal((await api(d.url, '/v1/tasks?status=failed')).body.tasks.length, 0, 'nothing was stored');
});

test('unfinished payloads are bounded by TASKMESH_PENDING_BYTES: past it 429 QUEUE_FULL naming the limit', async (t) => {
  const d = await start(t, { pendingBytes: 64 * 1024 });
  const task = { type: 'reverse', payload: { text: 'y'.repeat(40_000) }, timeoutMs: 60_000 };
  assert.equal((await api(d.url, '/v1/tasks', { body: task })).status, 202);
  const over = await api(d.url, '/v1/tasks', { body: task });
  assert.equal(over.status, 429);
  assert.equal(over.body.error.code, 'QUEUE_FULL');
  assert.equal(over.body.error.details.limit, 'TASKMESH_PENDING_BYTES');
});
