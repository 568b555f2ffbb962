import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NameserviceClient, SIGNATURE_HEADER, nameserviceKey, signRequest } from '@taskmesh/shared';
import { TEST_SECRET, type RunningService } from '@taskmesh/shared/testing';
import { registration, startNameservice, tempDir } from './test-support.js';
import type { TestContext } from 'node:test';

/** A nameservice process with a small registry cap. */
async function start(t: TestContext, maxWorkers = 3): Promise<{ svc: RunningService; url: string }> {
  const registryFile = join(await tempDir(t), 'registry.json');
  return startNameservice(t, registryFile, { env: { TASKMESH_NAMESERVICE_MAX_WORKERS: String(maxWorkers) } });
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/workers`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** The nameservice still answers, as the same process, and still takes a signed registration. */
async function stillServing(svc: RunningService, url: string, name: string): Promise<void> {
  assert.equal(svc.proc.exitCode, null);
  const client = new NameserviceClient({ baseUrl: url, secret: TEST_SECRET });
  const lease = await client.register(registration(name, { type: 'reverse' }));
  assert.equal(lease.worker.state, 'live');
}

test('a registration without a valid signature is 401 and registers nothing', async (t) => {
  const { svc, url } = await start(t);
  const body = JSON.stringify(registration('stranger', { capacity: 1_000_000, host: '203.0.113.9' }));
  const unsigned = await post(url, body);
  assert.equal(unsigned.status, 401);
  assert.match(((await unsigned.json()) as { error: { message: string } }).error.message, /TASKMESH_SECRET/);
  const wrongKey = await post(url, body, {
    [SIGNATURE_HEADER]: signRequest(nameserviceKey('another-secret-of-at-least-32-characters'), {
      method: 'POST',
      path: '/v1/workers',
      body,
    }),
  });
  assert.equal(wrongKey.status, 401);
  // A signature over another body: the body was altered on the way.
  const key = nameserviceKey(TEST_SECRET);
  const altered = await post(url, body, {
    [SIGNATURE_HEADER]: signRequest(key, { method: 'POST', path: '/v1/workers', body: body.replace('stranger', 'friend') }),
  });
  assert.equal(altered.status, 401);
  const stale = await post(url, body, {
    [SIGNATURE_HEADER]: signRequest(key, { method: 'POST', path: '/v1/workers', body }, Date.now() - 120_000),
  });
  assert.equal(stale.status, 401);
  const heartbeat = await fetch(`${url}/v1/workers/anyone/heartbeat`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"queued":0,"inFlight":0}',
  });
  assert.equal(heartbeat.status, 401);
  const removal = await fetch(`${url}/v1/workers/anyone`, { method: 'DELETE' });
  assert.equal(removal.status, 401);
  const listed = (await (await fetch(`${url}/v1/workers`)).json()) as { workers: unknown[] };
  assert.deepEqual(listed.workers, []);
  await stillServing(svc, url, 'real-1');
});

test('a signed request replayed is refused', async (t) => {
  const { svc, url } = await start(t);
  const body = JSON.stringify(registration('once'));
  const headers = {
    [SIGNATURE_HEADER]: signRequest(nameserviceKey(TEST_SECRET), { method: 'POST', path: '/v1/workers', body }),
  };
  assert.equal((await post(url, body, headers)).status, 201);
  const replay = await post(url, body, headers);
  assert.equal(replay.status, 401);
  assert.match(((await replay.json()) as { error: { message: string } }).error.message, /replayed/);
  await stillServing(svc, url, 'real-2');
});

test('past TASKMESH_NAMESERVICE_MAX_WORKERS a registration is 503 REGISTRY_FULL; re-registering a known name still works', async (t) => {
  const { svc, url } = await start(t, 3);
  const client = new NameserviceClient({ baseUrl: url, secret: TEST_SECRET });
  for (const name of ['a', 'b', 'c']) await client.register(registration(name));
  const full = await client.register(registration('d')).then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.equal((full as { code?: string }).code, 'REGISTRY_FULL');
  assert.match((full as Error).message, /TASKMESH_NAMESERVICE_MAX_WORKERS/);
  await client.register(registration('b', { port: 40001 }));
  const names = (await client.list()).map((w) => w.name);
  assert.deepEqual(names, ['a', 'b', 'c']);
  // A deregistration makes room again.
  await client.deregister('a');
  await stillServing(svc, url, 'd');
});

test('meta is bounded: too many entries or too long a value is 400 naming the field', async (t) => {
  const { svc, url } = await start(t);
  const client = new NameserviceClient({ baseUrl: url, secret: TEST_SECRET });
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
  for (const meta of [many, { big: 'x'.repeat(257) }]) {
    const err = await client.register(registration('labelled', { meta })).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    assert.equal(err?.code, 'INVALID_REQUEST');
    assert.match(err.message, /body\.meta/);
  }
  await stillServing(svc, url, 'labelled');
});

test('a signed request captured before a restart cannot be replayed after it (the signatures seen were in memory only)', async (t) => {
  const registryFile = join(await tempDir(t), 'registry.json');
  const first = await startNameservice(t, registryFile);
  const port = Number(new URL(first.url).port);
  const body = JSON.stringify(registration('captured'));
  const headers = {
    [SIGNATURE_HEADER]: signRequest(nameserviceKey(TEST_SECRET), { method: 'POST', path: '/v1/workers', body }),
  };
  assert.equal((await post(first.url, body, headers)).status, 201);
  await first.svc.kill('SIGKILL');
  const again = await startNameservice(t, registryFile, { port });
  const replay = await post(again.url, body, headers);
  assert.equal(replay.status, 401);
  assert.match(((await replay.json()) as { error: { message: string } }).error.message, /before this service started/);
  await stillServing(again.svc, again.url, 'real-3');
});
