import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LEASE_TTL_MS, NameserviceClient, TaskmeshError, type DispatchOutcome } from '@taskmesh/shared';
import { TEST_SECRET, startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { openTestCaller, valueOf, waitForRecord, type TestCaller } from './integration-support.js';

/** Real worker processes under load, killed and stopped, as seen by the nameservice and a caller. */
let suite: LocalSuite;
let client: NameserviceClient;
let caller: TestCaller;

before(async () => {
  suite = await startLocalSuite({ dispatcher: false });
  client = new NameserviceClient({ secret: TEST_SECRET, baseUrl: suite.nameserviceUrl });
  // CPU-bound tasks hold the worker's event loop, and its keep-alives with it: be patient.
  caller = await openTestCaller({ keepaliveTimeoutMs: 30_000 });
});
after(async () => {
  await caller?.close();
  await suite?.stop();
});

test('a full worker answers BUSY at once; cancelled tasks free it', async () => {
  const w = await suite.addWorker('wait', { TASKMESH_WORKER_CONCURRENCY: '1', TASKMESH_WORKER_QUEUE_SIZE: '1' });
  const cancels = [new AbortController(), new AbortController()];
  const accepted: Promise<void>[] = [];
  const long = cancels.map((c) => {
    let onAccepted!: () => void;
    accepted.push(new Promise((r) => (onAccepted = r)));
    return caller.run(w, 'wait', { ms: 20_000 }, { signal: c.signal, onAccepted });
  });
  await Promise.all(accepted);
  const started = performance.now();
  const third = await caller.run(w, 'wait', { ms: 10 });
  assert.ok(performance.now() - started < 1000, 'busy is answered at once, not after a wait');
  assert.equal(third.kind, 'busy');
  assert.deepEqual(third.kind === 'busy' && third.load, { queued: 1, inFlight: 1, capacity: 2 });
  for (const c of cancels) c.abort();
  for (const p of long) await assert.rejects(p, (e: unknown) => e instanceof TaskmeshError && e.code === 'CANCELLED');
  // Room again once the cancelled tasks are gone (bounded retries: the cancel is asynchronous).
  let outcome: DispatchOutcome | undefined;
  for (let i = 0; i < 20 && outcome?.kind !== 'result'; i++) {
    outcome = await caller.run(w, 'wait', { ms: 10 });
    if (outcome.kind === 'busy') await new Promise((r) => setTimeout(r, 100));
  }
  valueOf(outcome!);
});

test('a SIGKILLed worker expires from the nameservice within ~4.5 s', async () => {
  const w = await suite.addWorker('reverse');
  const name = String(w.ready.name);
  await waitForRecord(client, name, (r) => r?.state === 'live');
  const killedAt = Date.now();
  await w.kill('SIGKILL');
  await waitForRecord(client, name, (r) => r === undefined || r.state === 'expired', 6000);
  const after = Date.now() - killedAt;
  assert.ok(after <= 4500, `expired ${after} ms after the kill (lease ${LEASE_TTL_MS} ms)`);
  assert.equal(
    (await client.lookup('reverse')).some((r) => r.name === name),
    false,
  );
});

test('SIGTERM: the worker deregisters, finishes its in-flight task, delivers the result and exits 0', async () => {
  const w = await suite.addWorker('wait');
  const name = String(w.ready.name);
  await waitForRecord(client, name, (r) => r?.state === 'live');
  let onAccepted!: () => void;
  const accepted = new Promise<void>((r) => (onAccepted = r));
  const running = caller.run(w, 'wait', { ms: 1500 }, { onAccepted });
  await accepted;
  const exited = w.kill('SIGTERM');
  // Gone from the nameservice while the task still runs.
  const gone = await waitForRecord(client, name, (r) => r === undefined, 3000);
  assert.ok(gone.afterMs < 1400, `deregistered after ${gone.afterMs} ms`);
  // Draining: a new task is answered BUSY so the caller tries another worker.
  const late = await caller.run(w, 'wait', { ms: 10 });
  assert.equal(late.kind, 'busy');
  const outcome = await running;
  assert.equal((valueOf(outcome) as { waitedMs: number }).waitedMs >= 1490, true);
  const { code } = await exited;
  assert.equal(code, 0);
  const closed = await w.waitForLine((l) => l.event === 'closed', 1000);
  assert.deepEqual(closed.failed, []);
});

test('heartbeats continue while CPU-bound tasks hold the main thread for seconds', async () => {
  const w = await suite.addWorker('image', { TASKMESH_WORKER_CONCURRENCY: '64', TASKMESH_WORKER_QUEUE_SIZE: '0' });
  const name = String(w.ready.name);
  await waitForRecord(client, name, (r) => r?.state === 'live');
  // Rendering is synchronous: time a large PNG (after a warm-up), then send enough of them for
  // a stall of ~5 s, well past the 3 s lease.
  const payload = { width: 2048, height: 2048, text: 'busy' };
  let perTask = Infinity;
  for (let i = 0; i < 2; i++) {
    const probe = await caller.run(w, 'image', payload);
    valueOf(probe);
    if (probe.kind === 'result') perTask = Math.min(perTask, Math.max(20, probe.durationMs));
  }
  const count = Math.min(64, Math.ceil(5000 / perTask));
  // Sent in one turn, the tasks share datagrams and start together: one long stall.
  const tasks = Array.from({ length: count }, () => caller.run(w, 'image', payload));
  const observations: Array<{ state: string; lastHeartbeatAt: number }> = [];
  let settled = false;
  const all = Promise.all(tasks).finally(() => {
    settled = true;
  });
  // Watch the worker's record from outside for as long as the tasks run (bounded by them).
  while (!settled) {
    const record = (await client.list()).find((r) => r.name === name);
    assert.ok(record !== undefined, 'the worker stays listed');
    observations.push({ state: record.state, lastHeartbeatAt: record.lastHeartbeatAt });
    await Promise.race([all, new Promise((r) => setTimeout(r, 100))]);
  }
  for (const outcome of await all) assert.equal((valueOf(outcome) as { width: number }).width, 2048);

  const blocked = w.lines.filter((l) => l.event === 'loop-blocked').map((l) => l.ms as number);
  assert.ok(
    blocked.some((ms) => ms >= 2000),
    `${count} renders of ~${perTask} ms blocked the main thread >= 2 s (stalls: ${JSON.stringify(blocked)})`,
  );
  assert.ok(
    observations.every((o) => o.state === 'live'),
    `state stayed live: ${JSON.stringify(observations.filter((o) => o.state !== 'live'))}`,
  );
  // Heartbeats kept arriving during the stall: no gap anywhere near the lease.
  const beats = [...new Set(observations.map((o) => o.lastHeartbeatAt))].sort((a, b) => a - b);
  assert.ok(beats.length >= 3, `several heartbeats were seen while the tasks ran (${beats.length})`);
  for (let i = 1; i < beats.length; i++)
    assert.ok(beats[i]! - beats[i - 1]! < LEASE_TTL_MS - 500, `heartbeat gap ${beats[i]! - beats[i - 1]!} ms`);
});

test('CPU-bound tasks are acknowledged before their handlers hold the thread: an impatient caller gets every result', async (t) => {
  const w = await suite.addWorker('image', { TASKMESH_WORKER_CONCURRENCY: '64', TASKMESH_WORKER_QUEUE_SIZE: '0' });
  await waitForRecord(client, String(w.ready.name), (r) => r?.state === 'live');
  const payload = { width: 2048, height: 2048, text: 'busy' };
  // Timed with the shared caller, so the fresh one below keeps its first, short patience.
  let perTask = Infinity;
  for (let i = 0; i < 2; i++) {
    const probe = await caller.run(w, 'image', payload);
    if (probe.kind === 'result') perTask = Math.min(perTask, Math.max(20, probe.durationMs));
  }
  // A caller that gives a task up (NO_ACK) after three retransmissions, about a second without an
  // acknowledgement; the renders hold the worker's thread for several times that.
  const count = Math.min(64, Math.ceil(4000 / perTask));
  const fresh = await openTestCaller({ keepaliveTimeoutMs: 30_000, retransmit: { maxRetransmits: 3 } });
  t.after(() => fresh.close());
  let acked = 0;
  const outcomes = await Promise.all(
    Array.from({ length: count }, () =>
      fresh.run(w, 'image', payload, { onAccepted: () => acked++ }).catch((err: unknown) => (err as TaskmeshError).code),
    ),
  );
  assert.deepEqual(
    outcomes.filter((o) => typeof o === 'string' || o.kind !== 'result'),
    [],
    `${count} renders of ~${perTask} ms, each answered`,
  );
  assert.equal(acked, count, 'each acknowledged before its result');
});

/** A minute-long wait task, once `worker` accepted it; `running` ends in its outcome or error. */
async function acceptedLongWait(own: TestCaller, worker: RunningService): Promise<{ running: Promise<unknown> }> {
  let onAccepted!: () => void;
  const accepted = new Promise<void>((r) => (onAccepted = r));
  const running = own.run(worker, 'wait', { ms: 60_000 }, { onAccepted }).catch((err: unknown) => err);
  await accepted;
  return { running };
}

test('a drain that outlasts TASKMESH_WORKER_DRAIN_TIMEOUT_MS is abandoned, and the worker still exits', async () => {
  const w = await suite.addWorker('wait', { TASKMESH_WORKER_DRAIN_TIMEOUT_MS: '300' });
  const own = await openTestCaller({ keepaliveTimeoutMs: 30_000 });
  try {
    const { running } = await acceptedLongWait(own, w);
    const started = Date.now();
    const { code } = await w.kill('SIGTERM');
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 5000, 'exited soon after the drain timeout');
    const closed = await w.waitForLine((l) => l.event === 'closed', 1000);
    assert.deepEqual(closed.failed, ['drain']);
    // The caller would notice when keep-alives stop; closing it ends the wait here.
    own.caller.close();
    assert.ok((await running) instanceof TaskmeshError);
  } finally {
    await own.close();
  }
});

test('a second SIGTERM during the drain exits 1 at once instead of waiting', async () => {
  const w = await suite.addWorker('wait');
  const own = await openTestCaller({ keepaliveTimeoutMs: 30_000 });
  try {
    const { running } = await acceptedLongWait(own, w);
    w.proc.kill('SIGTERM');
    await w.waitForLine((l) => l.event === 'closing', 5000);
    const { code } = await w.kill('SIGTERM');
    assert.equal(code, 1);
    assert.ok(
      w.lines.some((l) => l.event === 'forced-exit'),
      'the forced exit is logged',
    );
    assert.ok(!w.lines.some((l) => l.event === 'closed'), 'the drain was not waited for');
    own.caller.close();
    assert.ok((await running) instanceof TaskmeshError);
  } finally {
    await own.close();
  }
});
