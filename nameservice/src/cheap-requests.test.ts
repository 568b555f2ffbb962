import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { NameserviceClient, type RegistryChange } from '@taskmesh/shared';
import { TEST_SECRET, eventually } from '@taskmesh/shared/testing';
import { onCleanup, startNameservice, tempDir } from './test-support.js';

/**
 * What anyone on the network could do to the nameservice for the price of a few requests, each
 * against a real nameservice process: take every watch slot, fill its log (and the disk under
 * it), reach it under a name it does not serve.
 */

/** An open GET /v1/watch stream (unsigned, as anyone can open one): its status, held until the test ends. */
function openWatch(t: Parameters<typeof onCleanup>[0], url: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: '/v1/watch', agent: false }, (res) => {
      if (res.statusCode === 200) {
        onCleanup(t, () => res.destroy());
        return resolve({ status: 200, body: '' });
      }
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('idle unsigned watches cannot take the slots of the signed ones: push failover stays on', async (t) => {
  const { url } = await startNameservice(t, join(await tempDir(t), 'registry.json'), {
    env: { TASKMESH_NAMESERVICE_MAX_WATCHERS: '2', TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS: '4' },
  });
  // Anyone's idle watches, far more than the caps.
  const answers = await Promise.all(Array.from({ length: 30 }, () => openWatch(t, url)));
  const held = answers.filter((a) => a.status === 200).length;
  assert.equal(held, 2, 'two from one client (the per-client cap)');
  const refused = answers.find((a) => a.status === 503);
  assert.ok(refused !== undefined);
  assert.equal(JSON.parse(refused.body).error.code, 'TOO_MANY_SUBSCRIBERS');
  assert.match(JSON.parse(refused.body).error.message, /TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS_PER_CLIENT/);
  // A dispatcher's watch is signed: it gets a slot of its own, and hears changes.
  const changes: RegistryChange[] = [];
  const stop = new AbortController();
  const watching = new NameserviceClient({ baseUrl: url, secret: TEST_SECRET }).watch((c) => changes.push(c), {
    signal: stop.signal,
    silenceMs: 60_000,
  });
  onCleanup(t, async () => {
    stop.abort();
    await watching.catch(() => undefined);
  });
  await eventually('the signed watch to open', () => changes.some((c) => c.kind === 'hello'));
  // A watch whose signature is not TASKMESH_SECRET's is refused, not given a signed slot.
  const forged = await fetch(`${url}/v1/watch`, {
    headers: { 'x-taskmesh-signature': `t=${Date.now()},n=${'0'.repeat(16)},s=${'0'.repeat(64)}` },
  });
  assert.equal(forged.status, 401);
  const health = (await (await fetch(`${url}/healthz`)).json()) as { watchers: number; watchesRefused: { unsigned: number } };
  assert.equal(health.watchers, 3);
  assert.equal(health.watchesRefused.unsigned, 28);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^taskmesh_nameservice_watches_refused_total 28$/m);
});

test('a flood of unsigned requests with long paths leaves a few short warning lines, not one per request', async (t) => {
  const { svc, url } = await startNameservice(t, join(await tempDir(t), 'registry.json'));
  const path = `/v1/workers/${'x'.repeat(60)}/heartbeat?${'a'.repeat(6000)}`;
  const before = svc.lines.length;
  for (let wave = 0; wave < 10; wave++) {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(`${url}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"queued":0,"inFlight":0}' }),
      ),
    );
    for (const a of answers) assert.equal(a.status, 401);
  }
  const health = (await (await fetch(`${url}/healthz`)).json()) as { warningsLeftOut: number };
  // Ten lines per 10 s at most: one interval here, or two on a machine slow enough to cross one.
  assert.ok(health.warningsLeftOut >= 470, `${health.warningsLeftOut} warnings left out`);
  const warned = svc.lines.slice(before).filter((l) => l.event === 'unauthorized');
  assert.ok(warned.length <= 20, `${warned.length} warning lines for 500 requests`);
  for (const line of warned) assert.ok(JSON.stringify(line).length < 1000, 'a warning carries a bounded slice of the path');
});

test('a request under a Host name the nameservice does not serve is refused (DNS rebinding)', async (t) => {
  const { url } = await startNameservice(t, join(await tempDir(t), 'registry.json'));
  const { hostname, port } = new URL(url);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ hostname, port, path: '/v1/workers', headers: { host: 'attacker.example.com' }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
});
