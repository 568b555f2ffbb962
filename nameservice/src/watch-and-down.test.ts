import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NameserviceClient, type RegistryChange } from '@taskmesh/shared';
import { TEST_SECRET, eventually } from '@taskmesh/shared/testing';
import { onCleanup, registration, startNameservice, tempDir } from './test-support.js';

/**
 * Failover by push, at the nameservice: a supervisor's signed down report expires the worker it
 * names (and only that one), and every change reaches the open watch streams at once.
 */

/** Follows the watch stream of `url` into `changes` until the test ends. */
function follow(t: Parameters<typeof onCleanup>[0], url: string): RegistryChange[] {
  const changes: RegistryChange[] = [];
  const stop = new AbortController();
  const done = new NameserviceClient({ baseUrl: url }).watch((c) => changes.push(c), { signal: stop.signal, silenceMs: 60_000 });
  onCleanup(t, async () => {
    stop.abort();
    await done.catch(() => undefined);
  });
  return changes;
}

test('a signed down report expires the worker with that host and pid, pushed to watchers; a worker registered again is untouched', async (t) => {
  const { url, client } = await startNameservice(t, join(await tempDir(t), 'registry.json'));
  const changes = follow(t, url);
  await eventually('hello', () => changes.some((c) => c.kind === 'hello'));
  const host = hostname();
  await client.register(registration('wait-a', { type: 'wait', pid: 4242, meta: { hostname: host } }));
  await client.register(registration('wait-b', { type: 'wait', pid: 4343, meta: { hostname: host } }));
  await eventually('two up changes', () => changes.filter((c) => c.kind === 'up').length === 2);

  // Another pid on this host, or this pid on another host: nobody.
  assert.deepEqual(await client.reportDown({ host, pid: 9999, reason: 'exited' }), []);
  assert.deepEqual(await client.reportDown({ host: 'elsewhere', pid: 4242, reason: 'exited' }), []);
  assert.deepEqual(await client.reportDown({ host, pid: 4242, reason: 'worker-wait (pid 4242) was killed by SIGKILL' }), ['wait-a']);
  const down = await eventually('the down change', () => changes.find((c) => c.kind === 'down'));
  assert.deepEqual(
    { ...down, at: 0 },
    { kind: 'down', at: 0, name: 'wait-a', type: 'wait', cause: 'reported', reason: 'worker-wait (pid 4242) was killed by SIGKILL' },
  );
  // Leaving on its own is a down of another cause: the dispatcher lets it finish what it holds.
  await client.deregister('wait-b');
  const left = await eventually('the deregistration', () => changes.find((c) => c.kind === 'down' && c.name === 'wait-b'));
  assert.equal(left.kind === 'down' && left.cause, 'deregistered');
  await client.register(registration('wait-b', { type: 'wait', pid: 4343, meta: { hostname: host } }));
  assert.deepEqual(
    (await client.lookup('wait')).map((w) => w.name),
    ['wait-b'],
  );
  const [expired] = await client.list({ state: 'expired' });
  assert.deepEqual([expired?.name, expired?.downReason], ['wait-a', 'worker-wait (pid 4242) was killed by SIGKILL']);
  // Reported twice (the runner and monitoring both saw it): the second finds nothing live.
  assert.deepEqual(await client.reportDown({ host, pid: 4242, reason: 'again' }), []);
  // Restarted under the same name with a new pid before a late report of the old one: kept.
  await client.register(registration('wait-a', { type: 'wait', pid: 5555, meta: { hostname: host } }));
  assert.deepEqual(await client.reportDown({ host, pid: 4242, reason: 'late' }), []);
  assert.deepEqual((await client.lookup('wait')).map((w) => w.name).sort(), ['wait-a', 'wait-b']);
});

test('a container report matches the worker whose hostname starts the container id', async (t) => {
  const { client } = await startNameservice(t, join(await tempDir(t), 'registry.json'));
  const id = 'a1b2c3d4e5f6'.padEnd(64, '0');
  await client.register(registration('reverse-a1b2c3d4e5f6-1', { type: 'reverse', pid: 1, meta: { hostname: id.slice(0, 12) } }));
  await client.register(registration('reverse-other-1', { type: 'reverse', pid: 1, meta: { hostname: 'b'.repeat(12) } }));
  assert.deepEqual(await client.reportDown({ container: id, reason: 'container died' }), ['reverse-a1b2c3d4e5f6-1']);
});

test('down reports are signed, named and checked: 401 without the secret, 400 naming the field', async (t) => {
  const { url, client } = await startNameservice(t, join(await tempDir(t), 'registry.json'));
  await client.register(registration('victim', { pid: 77, meta: { hostname: 'h' } }));
  const post = (body: unknown, secret?: string) =>
    new NameserviceClient({ baseUrl: url, secret }).reportDown(body as never).then(
      () => 'ok',
      (err: { code: string; message: string }) => `${err.code}: ${err.message}`,
    );
  assert.match(await post({ host: 'h', pid: 77, reason: 'x' }), /^UNAUTHORIZED/);
  assert.match(await post({ reason: 'x' }, TEST_SECRET), /^INVALID_REQUEST: .*host and pid, or by container/);
  assert.match(await post({ container: 'not-hex', reason: 'x' }, TEST_SECRET), /^INVALID_REQUEST: .*container/);
  assert.match(await post({ host: 'h', pid: 77, reason: 'x'.repeat(201) }, TEST_SECRET), /^INVALID_REQUEST: .*reason/);
  const victim = (await (await fetch(`${url}/v1/workers/victim`)).json()) as { worker: { state: string } };
  assert.equal(victim.worker.state, 'live');
});

test('watch streams are bounded by count: one past the limit is 503 TOO_MANY_SUBSCRIBERS, and a closed one frees its place', async (t) => {
  const { url } = await startNameservice(t, join(await tempDir(t), 'registry.json'), { env: { TASKMESH_NAMESERVICE_MAX_WATCHERS: '2' } });
  const streams = [new AbortController(), new AbortController()];
  const open = streams.map((s) => fetch(`${url}/v1/watch`, { signal: s.signal }));
  for (const res of await Promise.all(open)) assert.equal(res.status, 200);
  onCleanup(t, () => streams.forEach((s) => s.abort()));
  const refused = await fetch(`${url}/v1/watch`);
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'TOO_MANY_SUBSCRIBERS');
  streams[0]!.abort();
  await eventually('a place to be free', async () => {
    const health = (await (await fetch(`${url}/healthz`)).json()) as { watchers: number };
    return health.watchers === 1;
  });
  const again = new AbortController();
  onCleanup(t, () => again.abort());
  assert.equal((await fetch(`${url}/v1/watch`, { signal: again.signal })).status, 200);
});
