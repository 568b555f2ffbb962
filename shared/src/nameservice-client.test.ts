import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { TaskmeshError } from './errors.js';
import { NameserviceClient } from './nameservice-client.js';
import type { RegisterRequest } from './registry.js';
import { TEST_SECRET, serviceScript, spawnService, type RunningService } from './testing/index.js';

/** Runs against the real nameservice process (built from nameservice/), on port 0 with a temp registry. */
let dir: string;
let nameservice: RunningService;
let baseUrl: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskmesh-client-'));
  nameservice = await spawnService({
    name: 'nameservice',
    script: serviceScript('nameservice'),
    env: { TASKMESH_NAMESERVICE_PORT: '0', TASKMESH_NAMESERVICE_HOST: '127.0.0.1', TASKMESH_REGISTRY_FILE: join(dir, 'registry.json') },
  });
  baseUrl = `http://127.0.0.1:${nameservice.ready.http!}`;
});

after(async () => {
  await nameservice?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const reg = (name: string, type = 'client-test', capacity = 10): RegisterRequest => ({
  name,
  type,
  host: '127.0.0.1',
  port: 41000,
  endpointId: '0123456789abcdef',
  capacity,
  pid: process.pid,
});

/** Asserts that a promise rejects with a TaskmeshError of this code, and returns it. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<TaskmeshError> {
  const err = await promise.then(
    () => assert.fail(`expected a ${code} rejection`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TaskmeshError, `not a TaskmeshError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** Starts a real local server for the failure cases; the caller closes it. */
async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('register, heartbeat, lookup least loaded first, list, deregister', async () => {
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: `${baseUrl}/` });
  const lease = await client.register(reg('c-busy'));
  assert.equal(lease.worker.state, 'live');
  assert.ok(lease.lease.ttlMs > lease.lease.heartbeatIntervalMs);
  await client.register(reg('c-idle'));
  await client.register(reg('c-other', 'client-other'));
  assert.equal(await client.heartbeat('c-busy', { queued: 3, inFlight: 2 }), 'ok');
  assert.equal(await client.heartbeat('c-idle', { queued: 1, inFlight: 0 }), 'ok');

  const found = await client.lookup('client-test');
  assert.deepEqual(
    found.map((w) => [w.name, w.loadRatio]),
    [
      ['c-idle', 0.1],
      ['c-busy', 0.5],
    ],
  );
  assert.deepEqual(
    (await client.list({ type: 'client-other' })).map((w) => w.name),
    ['c-other'],
  );
  assert.ok((await client.list()).length >= 3);

  await client.deregister('c-busy');
  await client.deregister('c-busy'); // already gone: still done
  assert.deepEqual(
    (await client.lookup('client-test')).map((w) => w.name),
    ['c-idle'],
  );
  assert.equal(await client.heartbeat('c-busy', { queued: 0, inFlight: 0 }), 'unknown');
});

test('error bodies keep their code and the field they name', async () => {
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl });
  const err = await rejectsWith(client.register({ ...reg('c-bad'), port: 0 }), 'INVALID_REQUEST');
  assert.match(err.message, /body\.port/);
  assert.equal(err.retryable, false);
  await rejectsWith(client.lookup('Not A Type'), 'INVALID_REQUEST');
  await rejectsWith(client.heartbeat('c-x', { queued: -1, inFlight: 0 }), 'INVALID_REQUEST');
});

test('an unreachable nameservice is UNAVAILABLE (retryable)', async () => {
  // a port that was free a moment ago and has nothing listening now
  const probe = createTcpServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: `http://127.0.0.1:${port}` });
  const err = await rejectsWith(client.lookup('echo'), 'UNAVAILABLE');
  assert.equal(err.retryable, true);
  assert.match(err.message, /ECONNREFUSED/);
});

test('a nameservice that never answers is UNAVAILABLE after the timeout', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createTcpServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const url = await listen(silent);
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: url, timeoutMs: 200 });
  const started = Date.now();
  const err = await rejectsWith(client.heartbeat('w', { queued: 0, inFlight: 0 }), 'UNAVAILABLE');
  assert.match(err.message, /no answer within 200 ms/);
  assert.ok(Date.now() - started < 2000);
});

test('answers that are not the nameservice API are UNAVAILABLE, never trusted', async (t) => {
  const impostor = createHttpServer((req, res) => {
    if (req.url?.startsWith('/v1/types/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"workers":[{"name":"x"}]}');
    } else {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>');
    }
  });
  const url = await listen(impostor);
  t.after(() => {
    impostor.closeAllConnections();
    return new Promise((resolve) => impostor.close(resolve));
  });
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: url });
  assert.match((await rejectsWith(client.lookup('echo'), 'UNAVAILABLE')).message, /does not match the API/);
  assert.match((await rejectsWith(client.register(reg('w')), 'UNAVAILABLE')).message, /unexpected HTTP 502/);
  await rejectsWith(client.deregister('w'), 'UNAVAILABLE');
});
