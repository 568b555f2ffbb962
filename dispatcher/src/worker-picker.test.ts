import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NameserviceClient } from '@taskmesh/shared';
import { TEST_SECRET, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { WorkerPicker } from './worker-picker.js';
import { estimatedRatio, WorkerDirectory, type WorkerView } from './worker-directory.js';

// Worker selection against a real nameservice holding registrations with known load.
let suite: LocalSuite;
let client: NameserviceClient;

before(async () => {
  suite = await startLocalSuite({ dispatcher: false });
  client = new NameserviceClient({ baseUrl: suite.nameserviceUrl, secret: TEST_SECRET });
  const register = async (name: string, port: number, queued: number, inFlight: number, type = 'hash'): Promise<void> => {
    await client.register({ name, type, host: '127.0.0.1', port, endpointId: '0123456789abcdef', capacity: 10, pid: process.pid });
    await client.heartbeat(name, { queued, inFlight, capacity: 10 });
  };
  await register('full', 40001, 6, 4);
  await register('idle', 40002, 0, 0);
  await register('half', 40003, 1, 4);
  await register('upper-a', 40004, 0, 0, 'upper');
  await register('upper-b', 40005, 0, 0, 'upper');
});

after(async () => {
  await suite?.stop();
});

function directoryFor(): { directory: WorkerDirectory; refreshed: () => Promise<string> } {
  let notify: ((type: string) => void) | undefined;
  const directory = new WorkerDirectory({
    lookup: (type) => client.lookup(type),
    cacheMs: 60_000,
    onRefreshed: (type) => notify?.(type),
  });
  return { directory, refreshed: () => new Promise((resolve) => (notify = resolve)) };
}

/** A picker whose directory has looked `type` up once, so picks see the registrations. */
async function readyPicker(type: string, loadThreshold: number): Promise<{ directory: WorkerDirectory; picker: WorkerPicker }> {
  const { directory, refreshed } = directoryFor();
  const picker = new WorkerPicker({ directory, loadThreshold });
  const done = refreshed();
  picker.pick(type);
  await done;
  return { directory, picker };
}

test('the first pick waits for a lookup; unknown types have no live worker', async () => {
  const { directory, refreshed } = directoryFor();
  const picker = new WorkerPicker({ directory, loadThreshold: 0.9 });
  const done = refreshed();
  assert.equal(picker.pick('hash'), 'lookup-pending');
  assert.equal(await done, 'hash');
  const picked = picker.pick('hash');
  assert.ok(typeof picked !== 'string');
  const none = refreshed();
  picker.pick('sum');
  await none;
  assert.equal(picker.pick('sum'), 'none-live');
});

test('two choices: skips a full worker, prefers the less loaded, counts our own in-flight tasks', async () => {
  const { directory, picker } = await readyPicker('hash', 0.9);
  const names = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const w = picker.pick('hash') as WorkerView;
    names.set(w.name, (names.get(w.name) ?? 0) + 1);
  }
  // Only idle and half are eligible, and with two candidates the less loaded always wins.
  assert.deepEqual([...names.entries()], [['idle', 200]]);

  const idle = directory.get('idle')!;
  for (let i = 0; i < 8; i++) directory.startTask(idle);
  assert.equal(estimatedRatio(idle), 0.8);
  assert.equal((picker.pick('hash') as WorkerView).name, 'half');
  for (let i = 0; i < 8; i++) directory.endTask(idle);

  // BUSY rests a worker for a while; the other eligible one takes the work.
  directory.reportBusy(idle, { queued: 10, inFlight: 0, capacity: 10 });
  assert.equal((picker.pick('hash') as WorkerView).name, 'half');
  // A worker that just lost the task is only the last resort.
  assert.equal((picker.pick('hash', 'half') as WorkerView).name, 'half');
});

test('two idle candidates: the last pick wins again, until it is the more loaded one; busy ties are random', async () => {
  const { directory, picker } = await readyPicker('upper', 0.9);
  const first = picker.pick('upper') as WorkerView;
  for (let i = 0; i < 50; i++) assert.equal((picker.pick('upper') as WorkerView).name, first.name, `pick ${i} stays on the warm worker`);
  // One task in flight on it makes the other the less loaded: load still decides first.
  directory.startTask(first);
  const other = picker.pick('upper') as WorkerView;
  assert.notEqual(other.name, first.name);
  directory.endTask(first);
  // Tied again: the newer pick is the warm one now.
  for (let i = 0; i < 50; i++) assert.equal((picker.pick('upper') as WorkerView).name, other.name);
  // Tied but busy (one task each): no preference, both get picked.
  directory.startTask(first);
  directory.startTask(other);
  const picked = new Set<string>();
  for (let i = 0; i < 100; i++) picked.add((picker.pick('upper') as WorkerView).name);
  assert.deepEqual([...picked].sort(), [first.name, other.name].sort());
  directory.endTask(first);
  directory.endTask(other);
});

test('all workers above the threshold: nothing is picked', async () => {
  const { directory, picker } = await readyPicker('hash', 0.3);
  const idle = directory.get('idle')!;
  for (let i = 0; i < 4; i++) directory.startTask(idle);
  assert.equal(picker.pick('hash'), 'all-loaded');
});

test("an ack's fresh load figure is not replaced by an older heartbeat relayed by a lookup", async () => {
  const { directory, refreshed } = directoryFor();
  let done = refreshed();
  directory.candidates('hash');
  await done;
  const full = directory.get('full')!;
  assert.equal(estimatedRatio(full), 1, 'heartbeat says 10 of 10');
  directory.reportLoad(full, { queued: 0, inFlight: 1, capacity: 10 });
  assert.equal(estimatedRatio(full), 0.1);
  directory.invalidate('hash');
  done = refreshed();
  directory.candidates('hash');
  await done;
  assert.equal(estimatedRatio(full), 0.1, 'the ack (fresher) still counts');
  // Repeated BUSY answers rest the worker longer each time.
  directory.reportBusy(full, { queued: 10, inFlight: 0, capacity: 10 });
  directory.reportBusy(full, { queued: 10, inFlight: 0, capacity: 10 });
  directory.reportBusy(full, { queued: 10, inFlight: 0, capacity: 10 });
  assert.equal(full.busyStreak, 3);
  assert.ok(full.avoidUntil - Date.now() >= 50, 'third BUSY rests at least ~80 ms');
});

test('a worker pushed down leaves the candidates at once; listed live again, it is picked again', async () => {
  const { directory, refreshed } = directoryFor();
  const picker = new WorkerPicker({ directory, loadThreshold: 0.9 });
  const first = refreshed();
  picker.pick('upper');
  await first;
  assert.deepEqual(
    directory
      .candidates('upper')!
      .map((w) => w.name)
      .sort(),
    ['upper-a', 'upper-b'],
  );
  assert.equal(directory.markDown('upper-a')?.name, 'upper-a');
  assert.deepEqual(
    directory.candidates('upper')!.map((w) => w.name),
    ['upper-b'],
  );
  for (let i = 0; i < 5; i++) {
    const picked = picker.pick('upper');
    assert.ok(typeof picked !== 'string' && picked.name === 'upper-b');
  }
  // Up again (the nameservice still lists it live): looked up now, and no longer avoided.
  const again = refreshed();
  directory.refreshNow('upper');
  await again;
  const names = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const picked = picker.pick('upper');
    if (typeof picked !== 'string') {
      names.add(picked.name);
      directory.startTask(picked);
    }
  }
  assert.ok(names.has('upper-a'), [...names].join(', '));
});
