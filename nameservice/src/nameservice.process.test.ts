import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HEARTBEAT_INTERVAL_MS, LEASE_TTL_MS, NameserviceClient, RegistryFile, type WorkerRecord } from '@taskmesh/shared';
import { REPO_ROOT, TEST_SECRET, eventually, serviceScript, spawnService } from '@taskmesh/shared/testing';
import { SUSPECT_GRACE_MS, SWEEP_INTERVAL_MS } from './constants.js';
import { WorkerRegistry } from './worker-registry.js';
import { onCleanup, registration, startNameservice, tempDir } from './test-support.js';

/** A stand-in worker process: registers with the NameserviceClient, then heartbeats every interval. */
const WORKER_SCRIPT = `
import { NameserviceClient } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'shared', 'dist', 'index.js')).href)};
const [baseUrl, name, type] = process.argv.slice(2);
const client = new NameserviceClient({ secret: ${JSON.stringify(TEST_SECRET)}, baseUrl });
const registration = { name, type, host: '127.0.0.1', port: 40000, endpointId: '0123456789abcdef', capacity: 4, pid: process.pid };
await client.register(registration);
console.log(JSON.stringify({ event: 'ready' }));
setInterval(() => {
  client.heartbeat(name, { queued: 1, inFlight: 1 })
    .then((r) => (r === 'unknown' ? client.register(registration) : undefined))
    .catch((err) => console.log(JSON.stringify({ event: 'heartbeat-failed', message: err.message })));
}, ${HEARTBEAT_INTERVAL_MS});
`;

test('a SIGKILLed worker is expired within the lease bound and no longer offered', async (t) => {
  const dir = await tempDir(t);
  const { svc, client, url } = await startNameservice(t, join(dir, 'registry.json'));
  const script = join(dir, 'fake-worker.mjs');
  await writeFile(script, WORKER_SCRIPT);
  const worker = await spawnService({ name: 'fake-worker', script, args: [url, 'doomed-1', 'echo'] });
  onCleanup(t, () => worker.kill('SIGKILL'));

  // Heartbeats keep it live past one lease, with the load they carry.
  await eventually(
    'heartbeats past one lease',
    async () => {
      const w = (await client.lookup('echo')).find((x) => x.name === 'doomed-1');
      return w && w.lastHeartbeatAt - w.registeredAt >= LEASE_TTL_MS ? w : undefined;
    },
    { timeoutMs: LEASE_TTL_MS + 5000, intervalMs: 50 },
  );
  const live = (await client.lookup('echo'))[0];
  assert.deepEqual(live?.load, { queued: 1, inFlight: 1, capacity: 4 });

  const killedAt = Date.now();
  await worker.kill('SIGKILL');
  const expired = await eventually(
    'the killed worker to expire',
    async () => (await client.list({ state: 'expired' })).find((w) => w.name === 'doomed-1'),
    {
      timeoutMs: LEASE_TTL_MS + 3000,
      intervalMs: 50,
    },
  );
  const elapsed = Date.now() - killedAt;
  // Its last heartbeat was at most one interval before the kill; expiry is one lease after it.
  assert.ok(elapsed < 4500, `expired ${elapsed} ms after the kill`);
  assert.ok(elapsed >= LEASE_TTL_MS - HEARTBEAT_INTERVAL_MS - SWEEP_INTERVAL_MS, `expired too early: ${elapsed} ms`);
  assert.equal(expired.state, 'expired');
  assert.deepEqual(await client.lookup('echo'), []);
  await svc.waitForLine((l) => l.event === 'worker-expired' && l.worker === 'doomed-1', 1000);
});

test('a restarted nameservice recovers its registry as suspect; heartbeats revive, silence expires', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'registry.json');
  const first = await startNameservice(t, file);
  await first.client.register(registration('keeps-going'));
  await first.client.register(registration('went-away', { port: 40001 }));
  assert.equal(await first.client.heartbeat('keeps-going', { queued: 2, inFlight: 1 }), 'ok');
  assert.deepEqual(await first.svc.kill('SIGTERM'), { code: 0, signal: null });

  const saved = RegistryFile.parse(JSON.parse(await readFile(file, 'utf8')));
  assert.deepEqual(saved.workers.map((w) => [w.name, w.state]).sort(), [
    ['keeps-going', 'live'],
    ['went-away', 'live'],
  ]);

  const second = await startNameservice(t, file, { port: first.svc.ready.http });
  assert.equal(second.svc.ready.http, first.svc.ready.http);
  const restored = await second.client.list();
  assert.deepEqual(
    restored.map((w) => [w.name, w.state]),
    [
      ['keeps-going', 'suspect'],
      ['went-away', 'suspect'],
    ],
  );
  assert.deepEqual(restored[0]?.load, { queued: 2, inFlight: 1, capacity: 4 }, 'load survives the restart');
  assert.deepEqual(await second.client.lookup('echo'), [], 'suspects are not offered');

  assert.equal(await second.client.heartbeat('keeps-going', { queued: 0, inFlight: 0 }), 'ok');
  assert.deepEqual(
    (await second.client.lookup('echo')).map((w: WorkerRecord) => [w.name, w.state]),
    [['keeps-going', 'live']],
  );
  await second.svc.waitForLine((l) => l.event === 'worker-revived' && l.worker === 'keeps-going', 1000);

  await eventually(
    'the silent suspect to expire',
    async () => (await second.client.list({ state: 'expired' })).find((w) => w.name === 'went-away'),
    {
      timeoutMs: SUSPECT_GRACE_MS + 3000,
      intervalMs: 50,
    },
  );
  assert.equal(await second.client.heartbeat('went-away', { queued: 0, inFlight: 0 }), 'unknown');
});

const backupRecords = (): WorkerRecord[] => {
  const registry = new WorkerRegistry();
  registry.register(registration('from-bak'));
  return registry.snapshot();
};

const damaged: Array<[string, string]> = [
  ['garbage', 'this is not a registry \u0000\u00ff'],
  ['truncated JSON', '{"version":1,"savedAt":17,"workers":[{"name":"w1","type":"ec'],
  ['valid JSON with the wrong schema', JSON.stringify({ version: 1, savedAt: 17, workers: [{ name: 'w1', port: 'eighty' }] })],
];

for (const [label, text] of damaged) {
  for (const withBackup of [true, false]) {
    test(`a registry file of ${label} ${withBackup ? 'falls back to the .bak' : 'with no .bak starts empty'}, logged once, and serves`, async (t) => {
      const dir = await tempDir(t);
      const file = join(dir, 'registry.json');
      await writeFile(file, text);
      if (withBackup) await writeFile(`${file}.bak`, JSON.stringify({ version: 1, savedAt: 1, workers: backupRecords() }));

      const { svc, client } = await startNameservice(t, file);
      assert.equal(svc.ready.restoredFrom, withBackup ? 'backup' : 'empty');
      const complaints = svc.lines.filter((l) => l.level === 'error' || l.level === 'warn' || l.raw !== undefined);
      assert.equal(complaints.length, 1, `exactly one complaint line, got:\n${complaints.map((l) => JSON.stringify(l)).join('\n')}`);
      assert.equal(complaints[0]?.event, 'registry-corrupt');
      assert.match(String(complaints[0]?.message), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is unreadable`));
      assert.match(String(complaints[0]?.message), withBackup ? /using .*registry\.json\.bak/ : /starting empty/);
      assert.equal(await readFile(`${file}.corrupt`, 'utf8'), text);

      assert.deepEqual(
        (await client.list()).map((w) => [w.name, w.state]),
        withBackup ? [['from-bak', 'suspect']] : [],
      );
      await client.register(registration('fresh'));
      assert.deepEqual(
        (await client.lookup('echo')).map((w) => w.name),
        ['fresh'],
      );
      assert.deepEqual(await svc.kill('SIGTERM'), { code: 0, signal: null });

      const written = RegistryFile.parse(JSON.parse(await readFile(file, 'utf8')));
      assert.ok(written.workers.some((w) => w.name === 'fresh'));
      const left = (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
      assert.deepEqual(left, []);
    });
  }
}

for (const level of ['warn', 'silent'] as const) {
  test(`at TASKMESH_LOG_LEVEL=${level} the ready line is still announced, and nothing else at info`, async (t) => {
    const dir = await tempDir(t);
    const svc = await spawnService({
      name: 'nameservice',
      script: serviceScript('nameservice'),
      env: {
        TASKMESH_NAMESERVICE_PORT: '0',
        TASKMESH_NAMESERVICE_HOST: '127.0.0.1',
        TASKMESH_REGISTRY_FILE: join(dir, 'registry.json'),
        TASKMESH_LOG_LEVEL: level,
      },
    });
    onCleanup(t, () => svc.kill('SIGKILL'));
    assert.equal(typeof svc.ready.http, 'number');
    assert.equal(svc.ready.service, 'nameservice');
    const client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: `http://127.0.0.1:${svc.ready.http!}` });
    await client.register(registration('quiet'));
    assert.deepEqual(await svc.kill('SIGTERM'), { code: 0, signal: null });
    assert.deepEqual(
      svc.lines.filter((l) => l.level === 'info' && l.event !== 'ready'),
      [],
    );
  });
}
