import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../protocol.js';
import { TaskCaller, type DispatchOutcome } from './task-caller.js';
import { addressOf, openEndpoint } from './test-support.js';
import { eventually } from '../testing/eventually.js';
import type { TaskmeshError } from '../errors.js';

type After = { after: (fn: () => Promise<void> | void) => void };

/** A caller and two endpoints that answer by hand: the worker it sends to, and a stranger with the secret. */
async function setup(t: After) {
  const callerEndpoint = await openEndpoint();
  const worker = await openEndpoint();
  const stranger = await openEndpoint();
  const caller = new TaskCaller({ endpoint: callerEndpoint });
  t.after(async () => {
    caller.close();
    await Promise.all([callerEndpoint.close(), worker.close(), stranger.close()]);
  });
  const tasks: Message[] = [];
  worker.onMessage((m) => tasks.push(m));
  return { caller, callerEndpoint, worker, stranger, tasks };
}

test("a result for a task in flight from an endpoint other than its worker is ignored; the worker's own settles it", async (t) => {
  const { caller, callerEndpoint, worker, stranger, tasks } = await setup(t);
  let settled: DispatchOutcome | TaskmeshError | undefined;
  caller.start(
    { to: addressOf(worker), taskId: 't-1', type: 'echo', payload: {}, attempt: 1, timeoutMs: 5000 },
    { accepted: () => undefined, progress: () => undefined, settled: (outcome) => (settled = outcome) },
  );
  await eventually('the task at the worker', () => tasks.some((m) => m.kind === 'task'), { intervalMs: 5 });
  const forged = { kind: 'result', taskId: 't-1', outcome: { ok: true, value: 'forged' }, worker: 'stranger', durationMs: 0 } as const;
  stranger.send(forged, addressOf(callerEndpoint));
  await eventually('the forged result to be seen and refused', () => caller.foreignAnswers === 1, { intervalMs: 5 });
  assert.equal(settled, undefined, 'a result from another endpoint settles nothing');
  worker.send({ ...forged, outcome: { ok: true, value: 'real' }, worker: 'worker-1' }, addressOf(callerEndpoint));
  await eventually('the real result', () => settled !== undefined, { intervalMs: 5 });
  assert.deepEqual(settled, { kind: 'result', outcome: { ok: true, value: 'real' }, worker: 'worker-1', durationMs: 0 });
});

test('an ack from the wrong endpoint does not accept the task; a frame for another endpoint is dropped as misdirected', async (t) => {
  const { caller, callerEndpoint, worker, stranger, tasks } = await setup(t);
  let accepted = 0;
  caller.start(
    { to: addressOf(worker), taskId: 't-2', type: 'echo', payload: {}, attempt: 1, timeoutMs: 5000 },
    { accepted: () => accepted++, progress: () => undefined, settled: () => undefined },
  );
  await eventually('the task at the worker', () => tasks.length > 0, { intervalMs: 5 });
  const load = { queued: 0, inFlight: 1, capacity: 4 };
  stranger.send({ kind: 'ack', taskId: 't-2', status: 'accepted', load }, addressOf(callerEndpoint));
  await eventually("the stranger's ack at the caller", () => callerEndpoint.stats().messagesReceived >= 1, { intervalMs: 5 });
  // Signed for the worker, not for the caller: the caller's endpoint drops it before any listener.
  stranger.send({ kind: 'ack', taskId: 't-2', status: 'accepted', load }, { ...addressOf(callerEndpoint), id: worker.id });
  await eventually('the misdirected ack dropped', () => callerEndpoint.stats().dropped.misdirected === 1, { intervalMs: 5 });
  assert.equal(accepted, 0);
  worker.send({ kind: 'ack', taskId: 't-2', status: 'accepted', load }, addressOf(callerEndpoint));
  await eventually("the worker's ack", () => accepted === 1, { intervalMs: 5 });
});
