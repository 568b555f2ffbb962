import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { PROTOCOL_VERSION, TaskmeshError, silentLogger, type LoadReport, type TaskMessage } from '@taskmesh/shared';
import { TaskQueue, type QueueTaskContext } from './task-queue.js';
import { waitType } from './task-types/wait.js';
import { defineTaskType } from './task-types/task-type.js';

let seq = 0;
const task = (type: string, payload: unknown, timeoutMs = 30_000): TaskMessage => ({
  v: PROTOCOL_VERSION,
  kind: 'task',
  taskId: `t-${++seq}`,
  type,
  payload,
  attempt: 1,
  timeoutMs,
});

interface Recorded extends QueueTaskContext {
  controller: AbortController;
  startedAt: number | undefined;
  progress: (f: number) => void;
  reports: number[];
}
const context = (): Recorded => {
  const controller = new AbortController();
  const ctx: Recorded = {
    controller,
    signal: controller.signal,
    onAbort: (listener) => {
      if (controller.signal.aborted) listener(controller.signal.reason);
      else controller.signal.addEventListener('abort', () => listener(controller.signal.reason), { once: true });
    },
    logger: silentLogger(),
    startedAt: undefined,
    reports: [],
    started: () => {
      ctx.startedAt = performance.now();
    },
    progress: (f) => ctx.reports.push(f),
  };
  return ctx;
};

/** Resolves after the queue's deferred start (two setImmediate turns) has run. */
const afterPump = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

const accepted = (outcome: Promise<unknown> | 'busy'): Promise<unknown> => {
  assert.notEqual(outcome, 'busy');
  return outcome as Promise<unknown>;
};

test('concurrency is respected and the queue runs in arrival order', async () => {
  const loads: LoadReport[] = [];
  const queue = new TaskQueue({ type: waitType, concurrency: 2, queueSize: 3, workerName: 'w', onLoadChange: (l) => loads.push(l) });
  const ctxs = Array.from({ length: 5 }, context);
  const results = ctxs.map((ctx) => accepted(queue.offer(task('wait', { ms: 150 }), ctx)));
  assert.deepEqual(queue.load(), { queued: 5, inFlight: 0, capacity: 5 });
  await afterPump();
  assert.deepEqual(queue.load(), { queued: 3, inFlight: 2, capacity: 5 });
  assert.ok(ctxs[0]!.startedAt !== undefined && ctxs[1]!.startedAt !== undefined);
  assert.equal(ctxs[2]!.startedAt, undefined);
  await Promise.all(results);
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 0, capacity: 5 });
  // Never more than two ran at once, and every change was published.
  assert.ok(loads.every((l) => l.inFlight <= 2));
  assert.ok(Math.max(...loads.map((l) => l.inFlight)) === 2);
  const starts = ctxs.map((c) => c.startedAt!);
  assert.ok(starts[2]! - starts[0]! >= 140, 'third task waited for a free slot');
  assert.ok(starts[4]! >= starts[3]! && starts[3]! >= starts[2]!, 'FIFO');
});

test('a full queue answers busy at once, and takes tasks again when room frees', async () => {
  const queue = new TaskQueue({ type: waitType, concurrency: 1, queueSize: 1, workerName: 'w' });
  const a = accepted(queue.offer(task('wait', { ms: 100 }), context()));
  const b = accepted(queue.offer(task('wait', { ms: 100 }), context()));
  const started = performance.now();
  assert.equal(queue.offer(task('wait', { ms: 100 }), context()), 'busy');
  assert.ok(performance.now() - started < 20);
  assert.deepEqual(queue.load(), { queued: 2, inFlight: 0, capacity: 2 });
  await a;
  // After the first finished, there is room for one.
  await afterPump();
  const c = accepted(queue.offer(task('wait', { ms: 10 }), context()));
  assert.equal(queue.offer(task('wait', { ms: 10 }), context()), 'busy');
  await Promise.all([b, c]);
});

test('a bad payload or a wrong type throws synchronously and takes no room', () => {
  const queue = new TaskQueue({ type: waitType, concurrency: 1, queueSize: 0, workerName: 'w' });
  assert.throws(
    () => queue.offer(task('wait', { ms: 'soon' }), context()),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'INVALID_PAYLOAD' && /ms/.test(e.message),
  );
  assert.throws(
    () => queue.offer(task('hash', { text: 'x' }), context()),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'UNKNOWN_TYPE',
  );
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 0, capacity: 1 });
});

test('handler errors fail the task: TaskmeshError code kept, anything else HANDLER_FAILED', async () => {
  const failing = defineTaskType({
    name: 'fail',
    description: 'fails as told',
    payload: z.strictObject({ how: z.enum(['sync', 'async', 'coded']) }),
    defaults: { concurrency: 1, queueSize: 1 },
    handle: ({ how }) => {
      if (how === 'sync') throw new Error('sync boom');
      if (how === 'coded') return Promise.reject(new TaskmeshError('INVALID_PAYLOAD', 'no such thing'));
      return Promise.reject(new RangeError('async boom'));
    },
  });
  const queue = new TaskQueue({ type: failing, concurrency: 1, queueSize: 5, workerName: 'w' });
  await assert.rejects(
    accepted(queue.offer(task('fail', { how: 'sync' }), context())),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'HANDLER_FAILED' && e.message === 'sync boom',
  );
  await assert.rejects(
    accepted(queue.offer(task('fail', { how: 'async' }), context())),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'HANDLER_FAILED',
  );
  await assert.rejects(
    accepted(queue.offer(task('fail', { how: 'coded' }), context())),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'INVALID_PAYLOAD',
  );
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 0, capacity: 6 });
});

test('cancelling a queued task removes it; cancelling a running one rejects promptly', async () => {
  const queue = new TaskQueue({ type: waitType, concurrency: 1, queueSize: 2, workerName: 'w' });
  const runningCtx = context();
  const running = accepted(queue.offer(task('wait', { ms: 10_000 }), runningCtx));
  const queuedCtx = context();
  const queued = accepted(queue.offer(task('wait', { ms: 10 }), queuedCtx));
  await afterPump();
  assert.deepEqual(queue.load(), { queued: 1, inFlight: 1, capacity: 3 });
  queuedCtx.controller.abort();
  await assert.rejects(queued, (e: unknown) => e instanceof TaskmeshError && e.code === 'CANCELLED');
  assert.equal(queuedCtx.startedAt, undefined);
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 1, capacity: 3 });
  const t0 = performance.now();
  runningCtx.controller.abort();
  await assert.rejects(running, (e: unknown) => e instanceof TaskmeshError && e.code === 'CANCELLED');
  assert.ok(performance.now() - t0 < 500);
  await afterPump();
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 0, capacity: 3 });
});

test('a task past its deadline fails with TIMEOUT', async () => {
  const queue = new TaskQueue({ type: waitType, concurrency: 1, queueSize: 0, workerName: 'w' });
  await assert.rejects(
    accepted(queue.offer(task('wait', { ms: 5000 }, 80), context())),
    (e: unknown) => e instanceof TaskmeshError && e.code === 'TIMEOUT',
  );
});

test('progress is passed on clamped to 0..1', async () => {
  const queue = new TaskQueue({ type: waitType, concurrency: 1, queueSize: 0, workerName: 'w' });
  const ctx = context();
  await accepted(queue.offer(task('wait', { ms: 250 }), ctx));
  assert.ok(ctx.reports.length >= 3);
  assert.ok(ctx.reports.every((f) => f >= 0 && f <= 1));
  assert.equal(ctx.reports.at(-1), 1);
});

test('options are checked', () => {
  assert.throws(() => new TaskQueue({ type: waitType, concurrency: 0, queueSize: 1, workerName: 'w' }), /concurrency/);
  assert.throws(() => new TaskQueue({ type: waitType, concurrency: 1, queueSize: -1, workerName: 'w' }), /queueSize/);
});

test('a quick task runs inside offer() when a slot is free; otherwise it waits its turn', async () => {
  const ran: string[] = [];
  const echo = defineTaskType({
    name: 'echo',
    description: 'test',
    payload: z.strictObject({ id: z.string(), quick: z.boolean() }),
    defaults: { concurrency: 1, queueSize: 4 },
    quick: ({ quick }) => quick,
    handle: ({ id }) => {
      ran.push(id);
      return { id };
    },
  });
  const queue = new TaskQueue({ type: echo, concurrency: 1, queueSize: 4, workerName: 'w' });
  const first = accepted(queue.offer(task('echo', { id: 'a', quick: true }), context()));
  assert.deepEqual(ran, ['a'], 'ran before offer() returned');
  assert.deepEqual(queue.load(), { queued: 0, inFlight: 0, capacity: 5 });
  assert.deepEqual(await first, { id: 'a' });

  // Not quick: it starts on the pump; a quick task offered meanwhile queues behind it (FIFO).
  const slow = accepted(queue.offer(task('echo', { id: 'b', quick: false }), context()));
  const behind = accepted(queue.offer(task('echo', { id: 'c', quick: true }), context()));
  assert.deepEqual(ran, ['a']);
  assert.deepEqual(await Promise.all([slow, behind]), [{ id: 'b' }, { id: 'c' }]);
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('a quick task whose caller already cancelled never runs', async () => {
  let ran = 0;
  const echo = defineTaskType({
    name: 'echo',
    description: 'test',
    payload: z.unknown(),
    defaults: { concurrency: 1, queueSize: 1 },
    quick: () => true,
    handle: () => ++ran,
  });
  const queue = new TaskQueue({ type: echo, concurrency: 1, queueSize: 1, workerName: 'w' });
  const ctx = context();
  ctx.controller.abort(new TaskmeshError('CANCELLED', 'gone'));
  await assert.rejects(
    accepted(queue.offer(task('echo', null), ctx)),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'CANCELLED',
  );
  assert.equal(ran, 0);
});

test("a type's result schema, when it has one, fails a task whose result does not match, saying why", async () => {
  const counted = defineTaskType({
    name: 'counted',
    description: 'returns what it is told',
    payload: z.object({ n: z.unknown() }),
    result: z.object({ n: z.number() }),
    handle: ({ n }) => ({ n }),
  });
  const queue = new TaskQueue({ type: counted, concurrency: 1, queueSize: 1, workerName: 'w' });
  assert.deepEqual(await accepted(queue.offer(task('counted', { n: 3 }), context())), { n: 3 });
  await assert.rejects(
    accepted(queue.offer(task('counted', { n: 'three' }), context())),
    (err: unknown) =>
      err instanceof TaskmeshError && err.code === 'HANDLER_FAILED' && /does not match the counted result schema: n: /.test(err.message),
  );
});
