import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEASE_TTL_MS, TaskmeshError, WorkerRecord, contractFingerprint } from '@taskmesh/shared';
import { EXPIRED_RETENTION_MS, SUSPECT_GRACE_MS } from './constants.js';
import { WorkerRegistry, type RegistryEvent } from './worker-registry.js';
import { registration } from './test-support.js';

/** A registry whose time moves only when the test says so. */
function setup() {
  let now = 1_000_000;
  const events: RegistryEvent[] = [];
  const registry = new WorkerRegistry({ clock: () => now, onEvent: (e) => events.push(e) });
  return { registry, events, advance: (ms: number) => (now += ms), now: () => now };
}

test('lookup returns live workers of one type, least loaded first, then by in-flight and name', () => {
  const { registry } = setup();
  registry.register(registration('b', { capacity: 10 }));
  registry.register(registration('a', { capacity: 10 }));
  registry.register(registration('c', { capacity: 10 }));
  registry.register(registration('other', { type: 'sleep' }));
  registry.heartbeat('a', { queued: 5, inFlight: 0 }); // 0.5
  registry.heartbeat('b', { queued: 0, inFlight: 2 }); // 0.2, 2 in flight
  registry.heartbeat('c', { queued: 2, inFlight: 0 }); // 0.2, 0 in flight
  const found = registry.lookup('echo');
  assert.deepEqual(
    found.map((w) => w.name),
    ['c', 'b', 'a'],
  );
  assert.deepEqual(
    found.map((w) => w.loadRatio),
    [0.2, 0.2, 0.5],
  );
  for (const w of found) assert.ok(WorkerRecord.safeParse(w).success);
  assert.deepEqual(
    registry.lookup('sleep').map((w) => w.name),
    ['other'],
  );
  assert.deepEqual(registry.lookup('nothing'), []);
});

test('a heartbeat records load and capacity and renews the lease', () => {
  const { registry, advance } = setup();
  registry.register(registration('w', { capacity: 4 }));
  advance(LEASE_TTL_MS - 1);
  const after = registry.heartbeat('w', { queued: 3, inFlight: 1, capacity: 8 });
  assert.deepEqual(after?.load, { queued: 3, inFlight: 1, capacity: 8 });
  assert.equal(after?.loadRatio, 0.5);
  advance(LEASE_TTL_MS - 1);
  assert.equal(registry.get('w')?.state, 'live');
  advance(1);
  registry.sweep();
  assert.equal(registry.get('w')?.state, 'expired');
});

test('a silent worker expires after the lease, stays listed for the retention, then goes', () => {
  const { registry, events, advance, now } = setup();
  registry.register(registration('w'));
  advance(LEASE_TTL_MS - 1);
  registry.sweep();
  assert.equal(registry.lookup('echo').length, 1);
  advance(1);
  // lookups never return a lapsed lease, even before the sweep has marked it
  assert.equal(registry.lookup('echo').length, 0);
  const listed = registry.list();
  assert.equal(listed[0]?.state, 'expired');
  assert.equal(listed[0]?.expiredAt, now());
  assert.equal(registry.heartbeat('w', { queued: 0, inFlight: 0 }), undefined, 'an expired worker must register again');
  advance(EXPIRED_RETENTION_MS - 1);
  registry.sweep();
  assert.equal(registry.list().length, 1);
  advance(1);
  registry.sweep();
  assert.equal(registry.list().length, 0);
  assert.deepEqual(
    events.filter((e) => e.membership).map((e) => e.kind),
    ['registered', 'expired', 'removed'],
  );
});

test('re-registering a name replaces the entry; deregister removes it', () => {
  const { registry, events, advance } = setup();
  registry.register(registration('w', { port: 1000 }));
  registry.heartbeat('w', { queued: 2, inFlight: 2 });
  advance(10);
  const again = registry.register(registration('w', { port: 2000 }));
  assert.equal(again.port, 2000);
  assert.equal(again.loadRatio, 0);
  assert.equal(registry.list().length, 1);
  assert.equal(registry.deregister('w'), true);
  assert.equal(registry.deregister('w'), false);
  assert.equal(registry.list().length, 0);
  assert.deepEqual(
    events.filter((e) => e.membership).map((e) => e.kind),
    ['registered', 'replaced', 'deregistered'],
  );
});

test('restored entries are suspect: not offered, revived by a heartbeat, expired if silent', () => {
  const first = setup();
  first.registry.register(registration('talks'));
  first.registry.register(registration('silent'));
  first.registry.register(registration('gone'));
  first.advance(LEASE_TTL_MS - 1);
  first.registry.heartbeat('talks', { queued: 0, inFlight: 0 });
  first.registry.heartbeat('silent', { queued: 0, inFlight: 0 });
  first.advance(1);
  first.registry.sweep(); // 'gone' expired, the others were renewed
  const saved = first.registry.snapshot();

  const { registry, events, advance } = setup();
  advance(60_000); // the restart took a while: suspects still get their grace from now
  registry.restore(saved);
  assert.deepEqual(events, [], 'restoring is not a change to persist');
  assert.deepEqual(Object.fromEntries(registry.list().map((w) => [w.name, w.state])), {
    gone: 'expired',
    silent: 'suspect',
    talks: 'suspect',
  });
  assert.deepEqual(registry.lookup('echo'), []);
  assert.equal(registry.heartbeat('talks', { queued: 1, inFlight: 0 })?.state, 'live');
  assert.deepEqual(
    registry.lookup('echo').map((w) => w.name),
    ['talks'],
  );
  advance(SUSPECT_GRACE_MS);
  registry.sweep();
  assert.equal(registry.get('silent')?.state, 'expired');
  assert.equal(registry.get('talks')?.state, 'expired', 'talks did not heartbeat again either');
});

test('callers get copies, not the registry entries', () => {
  const { registry } = setup();
  const w = registry.register(registration('w', { meta: { container: 'abc' } }));
  w.load.queued = 99;
  w.meta!.container = 'changed';
  assert.equal(registry.get('w')?.load.queued, 0);
  assert.equal(registry.get('w')?.meta?.container, 'abc');
});

test("a contract's fingerprint is recomputed from its schema: one that is not the schema's is refused, naming both", () => {
  const { registry } = setup();
  const payloadSchema = { type: 'object', properties: { text: { type: 'string' } } };
  const honest = { description: 'echo', payloadSchema, fingerprint: contractFingerprint('echo', payloadSchema) };
  registry.register(registration('a', { contract: honest }));
  // A worker claiming the registered fingerprint for another schema would slip past the conflict check.
  const claimed = { ...honest, payloadSchema: { type: 'object' } };
  assert.throws(
    () => registry.register(registration('b', { contract: claimed })),
    (err: unknown) =>
      err instanceof TaskmeshError &&
      err.code === 'INVALID_REQUEST' &&
      err.message.includes(
        `contract fingerprint ${honest.fingerprint} is not that of its schema (${contractFingerprint('echo', { type: 'object' })})`,
      ),
  );
  assert.deepEqual(
    registry.list().map((w) => w.name),
    ['a'],
  );
});
