import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ErrorResponse,
  LEASE_TTL_MS,
  LeaseResponse,
  nameserviceKey,
  RegistryFile,
  SIGNATURE_HEADER,
  WorkerListResponse,
  signRequest,
  silentLogger,
} from '@taskmesh/shared';
import { TEST_SECRET } from '@taskmesh/shared/testing';
import { MAX_BODY_BYTES } from './constants.js';
import { createNameservice, type Nameservice } from './nameservice.js';
import { onCleanup, registration, tempDir } from './test-support.js';
import type { TestContext } from 'node:test';

/** An in-process nameservice on 127.0.0.1 port 0 with a temp registry file and a movable clock. */
async function start(t: TestContext) {
  const dir = await tempDir(t);
  let now = Date.now();
  const ns: Nameservice = await createNameservice({
    registryFile: join(dir, 'registry.json'),
    secret: TEST_SECRET,
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger(),
    clock: () => now,
  });
  onCleanup(t, () => ns.close());
  const key = nameserviceKey(TEST_SECRET);
  /** Requests that change the registry are signed as a worker signs them (at the service's clock). */
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const sent = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const signature: Record<string, string> =
      method === 'GET' ? {} : { [SIGNATURE_HEADER]: signRequest(key, { method, path, body: sent ?? '' }, now) };
    const res = await fetch(`${ns.url}${path}`, {
      method,
      headers: body === undefined ? { ...signature, ...headers } : { 'content-type': 'application/json', ...signature, ...headers },
      body: sent,
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  return { ns, dir, call, advance: (ms: number) => (now += ms) };
}

const errorOf = (body: unknown) => ErrorResponse.parse(body).error;

test('register, heartbeat with load, lookup least loaded first, filters, deregister', async (t) => {
  const { call } = await start(t);
  const reg = await call('POST', '/v1/workers', registration('w1', { capacity: 10, meta: { container: 'c1' } }));
  assert.equal(reg.status, 201);
  const lease = LeaseResponse.parse(reg.body);
  assert.deepEqual(lease.lease, { ttlMs: LEASE_TTL_MS, heartbeatIntervalMs: 1000 });
  assert.equal(lease.worker.state, 'live');
  assert.equal(lease.worker.meta?.container, 'c1');
  await call('POST', '/v1/workers', registration('w2', { capacity: 10 }));
  await call('POST', '/v1/workers', registration('s1', { type: 'sleep' }));

  const hb = await call('PUT', '/v1/workers/w1/heartbeat', { queued: 4, inFlight: 2 });
  assert.deepEqual([hb.status, hb.body], [200, { ok: true, ttlMs: LEASE_TTL_MS }]);
  await call('PUT', '/v1/workers/w2/heartbeat', { queued: 0, inFlight: 1 });

  const echo = WorkerListResponse.parse((await call('GET', '/v1/types/echo/workers')).body).workers;
  assert.deepEqual(
    echo.map((w) => [w.name, w.loadRatio, w.load.inFlight]),
    [
      ['w2', 0.1, 1],
      ['w1', 0.6, 2],
    ],
  );

  const all = WorkerListResponse.parse((await call('GET', '/v1/workers')).body).workers;
  assert.deepEqual(
    all.map((w) => w.name),
    ['s1', 'w1', 'w2'],
  );
  const sleepers = WorkerListResponse.parse((await call('GET', '/v1/workers?type=sleep&state=live')).body).workers;
  assert.deepEqual(
    sleepers.map((w) => w.name),
    ['s1'],
  );
  assert.deepEqual(((await call('GET', '/v1/workers/w2')).body as { worker: { name: string } }).worker.name, 'w2');

  assert.equal((await call('DELETE', '/v1/workers/w2')).status, 204);
  const gone = await call('DELETE', '/v1/workers/w2');
  assert.deepEqual([gone.status, errorOf(gone.body).code], [404, 'UNKNOWN_WORKER']);
  const { status, workers, live, suspect, expired, watchers } = (await call('GET', '/healthz')).body as Record<string, unknown>;
  assert.deepEqual(
    { status, workers, live, suspect, expired, watchers },
    { status: 'ok', workers: 2, live: 2, suspect: 0, expired: 0, watchers: 0 },
  );
});

test('a heartbeat for an unknown or expired worker is 404 UNKNOWN_WORKER', async (t) => {
  const { call, advance } = await start(t);
  const unknown = await call('PUT', '/v1/workers/nobody/heartbeat', { queued: 0, inFlight: 0 });
  assert.equal(unknown.status, 404);
  assert.equal(errorOf(unknown.body).code, 'UNKNOWN_WORKER');

  await call('POST', '/v1/workers', registration('w1'));
  advance(LEASE_TTL_MS);
  const listed = WorkerListResponse.parse((await call('GET', '/v1/workers?state=expired')).body).workers;
  assert.deepEqual(
    listed.map((w) => [w.name, w.state]),
    [['w1', 'expired']],
  );
  assert.deepEqual(WorkerListResponse.parse((await call('GET', '/v1/types/echo/workers')).body).workers, []);
  const late = await call('PUT', '/v1/workers/w1/heartbeat', { queued: 0, inFlight: 0 });
  assert.deepEqual([late.status, errorOf(late.body).code], [404, 'UNKNOWN_WORKER']);
  // registering again brings it back
  assert.equal((await call('POST', '/v1/workers', registration('w1'))).status, 201);
  assert.equal((await call('PUT', '/v1/workers/w1/heartbeat', { queued: 0, inFlight: 0 })).status, 200);
});

test('bad requests are 4xx JSON naming the field, and the service keeps serving', async (t) => {
  const { call } = await start(t);
  const cases: Array<[string, string, unknown, number, string, RegExp]> = [
    ['POST', '/v1/workers', registration('w', { port: 0 }), 400, 'INVALID_REQUEST', /body\.port/],
    ['POST', '/v1/workers', registration('w', { capacity: 'many' }), 400, 'INVALID_REQUEST', /body\.capacity/],
    ['POST', '/v1/workers', registration('bad name!'), 400, 'INVALID_REQUEST', /body\.name/],
    ['POST', '/v1/workers', { ...registration('w'), extra: 1 }, 400, 'INVALID_REQUEST', /extra/],
    ['POST', '/v1/workers', [1, 2], 400, 'INVALID_REQUEST', /body/],
    ['PUT', '/v1/workers/w/heartbeat', { queued: -1, inFlight: 0 }, 400, 'INVALID_REQUEST', /body\.queued/],
    ['GET', '/v1/types/NotAType/workers', undefined, 400, 'INVALID_REQUEST', /^type:/],
    ['GET', '/v1/workers?state=sleeping', undefined, 400, 'INVALID_REQUEST', /query\.state/],
    ['POST', '/v1/workers', '{"name": "w", ', 400, 'INVALID_REQUEST', /malformed JSON/],
    ['POST', '/v1/workers', 'null', 400, 'INVALID_REQUEST', /body: .*expected object, received null/],
    ['GET', '/v1/nothing', undefined, 404, 'NOT_FOUND', /GET \/v1\/nothing/],
    ['PATCH', '/v1/workers', undefined, 404, 'NOT_FOUND', /PATCH/],
  ];
  for (const [method, path, body, status, code, message] of cases) {
    const res = await call(method, path, body);
    const label = `${method} ${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
    assert.equal(res.status, status, label);
    const error = errorOf(res.body);
    assert.equal(error.code, code, label);
    assert.match(error.message, message, label);
  }
  const named = errorOf((await call('POST', '/v1/workers', registration('w', { port: 0 }))).body);
  assert.deepEqual(
    (named.details as { issues: Array<{ path: string }> }).issues.map((i) => i.path),
    ['body.port'],
  );

  const text = await call('POST', '/v1/workers', 'name=w', { 'content-type': 'text/plain' });
  assert.deepEqual([text.status, errorOf(text.body).code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
  const big = await call('POST', '/v1/workers', { ...registration('w'), meta: { pad: 'x'.repeat(MAX_BODY_BYTES) } });
  assert.deepEqual([big.status, errorOf(big.body).code], [413, 'PAYLOAD_TOO_LARGE']);

  assert.equal((await call('GET', '/healthz')).status, 200);
});

test('changes reach the registry file atomically, with no temp files left', async (t) => {
  const { ns, dir, call } = await start(t);
  for (let i = 0; i < 5; i += 1) await call('POST', '/v1/workers', registration(`w${i}`));
  for (let i = 0; i < 50; i += 1) await call('PUT', `/v1/workers/w${i % 5}/heartbeat`, { queued: i, inFlight: 0 });
  await call('DELETE', '/v1/workers/w4');
  await ns.flush();
  const file = RegistryFile.parse(JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')));
  assert.deepEqual(file.workers.map((w) => w.name).sort(), ['w0', 'w1', 'w2', 'w3']);
  assert.equal(file.workers.find((w) => w.name === 'w0')?.load.queued, 45, 'the last heartbeat of w0 carried queued=45');
  RegistryFile.parse(JSON.parse(await readFile(join(dir, 'registry.json.bak'), 'utf8')));
  assert.deepEqual((await readdir(dir)).sort(), ['registry.json', 'registry.json.bak']);
});
