import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NameserviceClient, nameserviceKey, silentLogger, type WorkerRecord } from '@taskmesh/shared';
import { TEST_SECRET, spawnService, serviceScript, type RunningService } from '@taskmesh/shared/testing';
import { HeartbeatThread, type HeartbeatThreadData } from './heartbeat-thread.js';
import { LoadCell } from './load-cell.js';

async function startNameservice(dir: string, port = 0, file = 'registry.json'): Promise<RunningService> {
  return spawnService({
    name: 'nameservice',
    script: serviceScript('nameservice'),
    env: {
      TASKMESH_NAMESERVICE_PORT: String(port),
      TASKMESH_NAMESERVICE_HOST: '127.0.0.1',
      TASKMESH_REGISTRY_FILE: join(dir, file),
      TASKMESH_LOG_LEVEL: 'info',
    },
  });
}

/** Polls until the nameservice's view of the worker satisfies `ok`; bounded. */
async function until(
  client: NameserviceClient,
  name: string,
  ok: (w: WorkerRecord | undefined) => boolean,
  timeoutMs = 8000,
): Promise<WorkerRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: WorkerRecord | undefined;
  while (Date.now() < deadline) {
    last = (await client.list().catch(() => [])).find((w) => w.name === name);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`condition not met within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

const threadData = (url: string, cell: LoadCell, name: string): HeartbeatThreadData => ({
  loadBuffer: cell.buffer,
  nameserviceUrl: url,
  nameserviceKey: nameserviceKey(TEST_SECRET),
  logLevel: 'silent',
  json: true,
  register: { name, type: 'wait', port: 40_000, endpointId: '0123456789abcdef', pid: process.pid, meta: { test: 'yes' } },
  advertise: { bindHost: '0.0.0.0', nameserviceUrl: url },
});

test('the heartbeat thread registers, carries the shared load and deregisters on stop', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-worker-hb-'));
  const ns = await startNameservice(dir);
  t.after(async () => {
    await ns.kill();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${ns.ready.http!}`;
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: url });
  const cell = new LoadCell();
  cell.write({ queued: 0, inFlight: 0, capacity: 7 });
  const thread = new HeartbeatThread({ data: threadData(url, cell, 'wait-hb-test-1'), logger: silentLogger() });
  t.after(() => thread.stop({ deregister: false }).catch(() => undefined));

  const record = await thread.registered;
  assert.equal(record.name, 'wait-hb-test-1');
  // Advertised at the local address of the route to the nameservice.
  assert.equal(record.host, '127.0.0.1');
  assert.equal(record.load.capacity, 7);

  cell.write({ queued: 3, inFlight: 2, capacity: 7 });
  const loaded = await until(client, 'wait-hb-test-1', (w) => w?.load.queued === 3 && w.load.inFlight === 2);
  assert.equal(loaded?.state, 'live');

  await thread.stop({ deregister: true });
  assert.equal(
    (await client.list()).find((w) => w.name === 'wait-hb-test-1'),
    undefined,
  );
});

test('start order does not matter, and a forgetful nameservice gets the worker registered again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-worker-hb-'));
  let ns = await startNameservice(dir);
  const port = ns.ready.http!;
  const url = `http://127.0.0.1:${port}`;
  await ns.kill();
  t.after(async () => {
    await ns.kill();
    await rm(dir, { recursive: true, force: true });
  });

  const cell = new LoadCell();
  cell.write({ queued: 0, inFlight: 0, capacity: 1 });
  const thread = new HeartbeatThread({ data: threadData(url, cell, 'wait-hb-test-2'), logger: silentLogger() });
  t.after(() => thread.stop({ deregister: false }).catch(() => undefined));

  // The worker is retrying while no nameservice runs; it registers once one comes up.
  await new Promise((r) => setTimeout(r, 600));
  ns = await startNameservice(dir, port);
  const first = await thread.registered;
  assert.equal(first.name, 'wait-hb-test-2');

  // A new nameservice with an empty registry: the next heartbeat is answered 'unknown'.
  await ns.kill();
  ns = await startNameservice(dir, port, 'other-registry.json');
  const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: url });
  const again = await until(client, 'wait-hb-test-2', (w) => w?.state === 'live');
  assert.equal(again?.host, '127.0.0.1');
});
