import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { TaskmeshError } from '../errors.js';
import { MAX_RESULT_ACK_IDS, PROTOCOL_VERSION, type Message } from '../protocol.js';
import { LOOPBACK_DATAGRAM_PAYLOAD, MAX_MESSAGE_BYTES, type RetransmitPolicy } from './constants.js';
import { TaskCaller } from './task-caller.js';
import { dispatch, type DispatchRequest } from '../testing/dispatch.js';
import { TaskServer, type TaskServerOptions } from './task-server.js';
import { CountingExecutor, addressOf, lossySend, openEndpoint } from './test-support.js';
import { eventually } from '../testing/eventually.js';
import type { UdpEndpointOptions } from './udp-endpoint.js';

type After = { after: (fn: () => Promise<void> | void) => void };

/** Short timings so failure paths finish quickly. */
const FAST: Partial<RetransmitPolicy> = { initialDelayMs: 20, maxDelayMs: 80, factor: 2, jitter: 0.1, maxRetransmits: 4 };
/** A caller that will not retransmit the task within a test, so result counts are exact. */
const PATIENT: Partial<RetransmitPolicy> = { initialDelayMs: 5000 };

interface SetupOptions {
  caller?: Partial<UdpEndpointOptions>;
  worker?: Partial<UdpEndpointOptions>;
  server?: Partial<TaskServerOptions>;
  capacity?: number;
  keepaliveTimeoutMs?: number;
  callerRetransmit?: Partial<RetransmitPolicy>;
  origin?: string;
}

/** A caller and a worker, each on its own real endpoint on 127.0.0.1. */
async function setup(t: After, options: SetupOptions = {}) {
  const callerEndpoint = await openEndpoint(options.caller);
  const workerEndpoint = await openEndpoint(options.worker);
  const executor = new CountingExecutor(options.capacity);
  const server = new TaskServer({ endpoint: workerEndpoint, executor, workerName: 'worker-1', retransmit: FAST, ...options.server });
  const caller = new TaskCaller({
    endpoint: callerEndpoint,
    retransmit: options.callerRetransmit ?? FAST,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    origin: options.origin,
  });
  t.after(async () => {
    caller.close();
    server.close();
    await callerEndpoint.close();
    await workerEndpoint.close();
  });
  const to = addressOf(workerEndpoint);
  const task = (taskId: string, type = 'echo', payload: unknown = { n: 1 }, more: Partial<DispatchRequest> = {}): DispatchRequest => ({
    to,
    taskId,
    type,
    payload,
    attempt: 1,
    timeoutMs: 10_000,
    ...more,
  });
  return { caller, server, executor, callerEndpoint, workerEndpoint, task };
}

/** Drops the first `n` outgoing datagrams that carry a message of `kind`. */
function dropFirst(kind: string, n: number): { wrapSend: UdpEndpointOptions['wrapSend']; dropped: () => number } {
  let dropped = 0;
  return {
    wrapSend: lossySend(({ kinds }) => {
      if (dropped >= n || !kinds.includes(kind)) return false;
      dropped++;
      return true;
    }),
    dropped: () => dropped,
  };
}

test('a task is acknowledged, run once and its result delivered and acknowledged', async (t) => {
  const { caller, server, executor, callerEndpoint, task } = await setup(t);
  const accepted: unknown[] = [];
  const outcome = await dispatch(caller, { ...task('t1', 'echo', { delayMs: 20 }), onAccepted: (load) => accepted.push(load) });
  assert.equal(outcome.kind, 'result');
  assert.deepEqual(outcome.kind === 'result' && outcome.outcome, { ok: true, value: { delayMs: 20 } });
  assert.equal(outcome.kind === 'result' && outcome.worker, 'worker-1');
  assert.equal(accepted.length, 1);
  assert.deepEqual(executor.executions, ['t1']);
  assert.equal(caller.inFlight(), 0);
  await server.drain(); // resolves only once the result was acknowledged
  // A slow first run may make the caller retransmit; each retransmission is answered as a duplicate.
  const duplicates = callerEndpoint.stats().retransmitted;
  assert.deepEqual(server.stats(), { accepted: 1, busy: 0, rejected: 0, duplicates, completed: 1, failed: 0, cancelled: 0 });
});

test('a task that finishes within the turn is answered by its result alone, without an ack', async (t) => {
  const { caller, callerEndpoint, task } = await setup(t, { callerRetransmit: PATIENT });
  const kinds: string[] = [];
  callerEndpoint.onMessage((m) => kinds.push(m.kind));
  const accepted: unknown[] = [];
  const outcome = await dispatch(caller, { ...task('t-fast', 'echo', { hello: 'world' }), onAccepted: (load) => accepted.push(load) });
  assert.deepEqual(outcome.kind === 'result' && outcome.outcome, { ok: true, value: { hello: 'world' } });
  assert.deepEqual(kinds, ['result']);
  assert.equal(accepted.length, 0);
});

test('lost acks: the retransmitted task is answered from state and runs exactly once', async (t) => {
  const drop = dropFirst('ack', 2);
  const { caller, server, executor, callerEndpoint, task } = await setup(t, { worker: { wrapSend: drop.wrapSend } });
  const outcome = await dispatch(caller, task('t-ack', 'echo', { delayMs: 200 }));
  assert.equal(outcome.kind, 'result');
  assert.equal(drop.dropped(), 2);
  assert.equal(executor.count('t-ack'), 1);
  assert.ok(server.stats().duplicates >= 2, JSON.stringify(server.stats()));
  assert.ok(callerEndpoint.stats().retransmitted >= 2);
});

test('a lost result is retransmitted until acknowledged; the caller resolves once', async (t) => {
  const drop = dropFirst('result', 1);
  const { caller, server, executor, callerEndpoint, workerEndpoint, task } = await setup(t, {
    worker: { wrapSend: drop.wrapSend },
    callerRetransmit: PATIENT,
  });
  let results = 0;
  callerEndpoint.onMessage((m) => {
    if (m.kind === 'result') results++;
  });
  const outcome = await dispatch(caller, task('t-result', 'echo', { delayMs: 30 }));
  assert.deepEqual(outcome.kind === 'result' && outcome.outcome, { ok: true, value: { delayMs: 30 } });
  assert.equal(drop.dropped(), 1);
  assert.equal(results, 1);
  assert.equal(executor.count('t-result'), 1);
  assert.ok(workerEndpoint.stats().retransmitted >= 1);
  await server.drain();
});

test('a lost result-ack makes the worker resend; the duplicate is acknowledged again and ignored', async (t) => {
  const drop = dropFirst('result-ack', 1);
  const { caller, server, callerEndpoint, task } = await setup(t, {
    caller: { wrapSend: drop.wrapSend },
    callerRetransmit: PATIENT,
  });
  const results: Message[] = [];
  callerEndpoint.onMessage((m) => {
    if (m.kind === 'result') results.push(m);
  });
  const outcome = await dispatch(caller, task('t-dup'));
  assert.equal(outcome.kind, 'result');
  await server.drain(); // the worker got a result-ack for its retransmission
  assert.equal(drop.dropped(), 1);
  assert.equal(results.length, 2);
  assert.equal(caller.inFlight(), 0);
});

test("one turn's results are acknowledged by one result-ack; a lost one makes the worker resend that flight once", async (t) => {
  const drop = dropFirst('result-ack', 1);
  const { caller, server, callerEndpoint, workerEndpoint, task } = await setup(t, {
    capacity: 100,
    caller: { wrapSend: drop.wrapSend },
    callerRetransmit: PATIENT,
  });
  let results = 0;
  callerEndpoint.onMessage((m) => {
    if (m.kind === 'result') results++;
  });
  const acks: string[][] = [];
  workerEndpoint.onMessage((m) => {
    if (m.kind === 'result-ack') acks.push(m.taskIds);
  });
  const ids = Array.from({ length: 30 }, (_, i) => `flight-${i}`);
  const outcomes = await Promise.all(ids.map((id) => dispatch(caller, task(id))));
  assert.ok(outcomes.every((o) => o.kind === 'result'));
  await server.drain(); // every result acknowledged
  assert.equal(drop.dropped(), 1, 'the first acknowledgement was lost');
  assert.equal(results, 60, 'each result sent twice: once, then again in one resent flight');
  assert.equal(workerEndpoint.stats().retransmitted, 30);
  assert.deepEqual(
    acks.map((a) => a.length),
    [30],
    'the resent flight acknowledged by one message',
  );
  assert.deepEqual([...acks[0]!].sort(), [...ids].sort());
});

test("a caller splits a turn's result-acks so that each fits one datagram", async (t) => {
  const callerEndpoint = await openEndpoint();
  const workerEndpoint = await openEndpoint();
  const caller = new TaskCaller({ endpoint: callerEndpoint });
  t.after(async () => {
    caller.close();
    await callerEndpoint.close();
    await workerEndpoint.close();
  });
  const acks: string[][] = [];
  workerEndpoint.onMessage((m) => {
    if (m.kind === 'result-ack') acks.push(m.taskIds);
  });
  // 1500 results in one turn, for tasks the caller does not know: each is acknowledged all the same.
  const ids = Array.from({ length: 1500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  for (const taskId of ids) {
    workerEndpoint.send(
      { kind: 'result', taskId, outcome: { ok: true, value: null }, worker: 'w', durationMs: 0 },
      addressOf(callerEndpoint),
    );
  }
  await eventually('every result acknowledged', () => acks.reduce((n, a) => n + a.length, 0) >= ids.length, { intervalMs: 5 });
  assert.deepEqual(acks.flat().sort(), ids);
  assert.ok(acks.length >= 4, `${acks.length} result-acks`);
  for (const a of acks) {
    assert.ok(a.length <= MAX_RESULT_ACK_IDS);
    const bytes = JSON.stringify({ v: PROTOCOL_VERSION, kind: 'result-ack', taskIds: a }).length + 2;
    assert.ok(bytes <= LOOPBACK_DATAGRAM_PAYLOAD, `a result-ack of ${bytes} bytes`);
  }
  assert.equal(workerEndpoint.stats().dropped.reassembly + workerEndpoint.stats().droppedTotal, 0);
});

test('a full worker answers BUSY with its load; a refused task is rejected with its error', async (t) => {
  const { caller, executor, task } = await setup(t, { capacity: 1 });
  const holding = dispatch(caller, task('hold-1', 'hold'));
  await eventually('the first task to run', () => executor.executions.length === 1, { intervalMs: 5 });
  const busy = await dispatch(caller, task('t-busy'));
  assert.deepEqual(busy, { kind: 'busy', load: { queued: 0, inFlight: 1, capacity: 1 } });
  const rejected = await dispatch(caller, task('t-bad', 'bad'));
  assert.equal(rejected.kind, 'rejected');
  assert.deepEqual(rejected.kind === 'rejected' && rejected.error, { code: 'INVALID_PAYLOAD', message: 'payload.text is required' });
  executor.release('hold-1', 'done');
  const held = await holding;
  assert.deepEqual(held.kind === 'result' && held.outcome, { ok: true, value: 'done' });
  assert.deepEqual(executor.executions, ['hold-1']);
});

test('a failed task reports its error; a retry with a higher attempt runs again, a repeat does not', async (t) => {
  const { caller, server, executor, task } = await setup(t);
  const first = await dispatch(caller, task('t-fail', 'fail'));
  assert.deepEqual(first.kind === 'result' && first.outcome, {
    ok: false,
    error: { code: 'HANDLER_FAILED', message: 'task t-fail failed on attempt 1' },
  });
  const repeat = await dispatch(caller, task('t-fail', 'fail'));
  assert.deepEqual(repeat.kind === 'result' && repeat.outcome, first.kind === 'result' && first.outcome);
  assert.equal(executor.count('t-fail'), 1);
  const retry = await dispatch(caller, task('t-fail', 'fail', {}, { attempt: 2 }));
  assert.deepEqual(retry.kind === 'result' && retry.outcome, {
    ok: false,
    error: { code: 'HANDLER_FAILED', message: 'task t-fail failed on attempt 2' },
  });
  assert.equal(executor.count('t-fail'), 2);
  // A finished successful task is never run again, whatever the attempt.
  await dispatch(caller, task('t-ok'));
  await dispatch(caller, task('t-ok', 'echo', { n: 1 }, { attempt: 5 }));
  assert.equal(executor.count('t-ok'), 1);
  assert.equal(server.stats().duplicates, 2);
});

test('no worker listening: NO_ACK after the bounded retransmissions', async (t) => {
  const { caller, callerEndpoint, workerEndpoint, server, task } = await setup(t);
  server.close();
  await workerEndpoint.close();
  await assert.rejects(
    dispatch(caller, task('t-noack')),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'NO_ACK' && /after 4 retransmissions/.test(err.message),
  );
  assert.equal(callerEndpoint.stats().retransmitted, 4);
  assert.equal(caller.inFlight(), 0);
  // Five tasks sent in one turn share one flight: retransmitted together, given up together.
  const sent = callerEndpoint.stats().datagramsSent;
  const five = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) =>
    dispatch(caller, task(id)).then(
      () => 'resolved',
      (err: unknown) => (err as TaskmeshError).code,
    ),
  );
  assert.deepEqual(await Promise.all(five), ['NO_ACK', 'NO_ACK', 'NO_ACK', 'NO_ACK', 'NO_ACK']);
  assert.equal(callerEndpoint.stats().retransmitted, 4 + 5 * 4);
  assert.equal(callerEndpoint.stats().datagramsSent - sent, 1 + 4, 'one datagram per (re)transmission of the flight');
});

test('an accepted task whose worker goes silent fails with WORKER_LOST', async (t) => {
  const { caller, server, workerEndpoint, task } = await setup(t, { keepaliveTimeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(
    dispatch(caller, {
      ...task('t-lost', 'hold'),
      onAccepted: () => {
        server.close();
        void workerEndpoint.close();
      },
    }),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'WORKER_LOST',
  );
  assert.ok(Date.now() - started >= 300);
});

test('keep-alive progress holds a long task open past the silence limit and reports progress', async (t) => {
  const { caller, executor, task } = await setup(t, { keepaliveTimeoutMs: 250, server: { keepaliveIntervalMs: 50 } });
  const progress: [number | null, string][] = [];
  const running = dispatch(caller, { ...task('t-long', 'hold'), onProgress: (p, state) => progress.push([p, state]) });
  await eventually('ten keep-alives', () => progress.length >= 10, { intervalMs: 5 }); // ~500 ms, twice the silence limit
  executor.release('t-long', 42);
  const outcome = await running;
  assert.deepEqual(outcome.kind === 'result' && outcome.outcome, { ok: true, value: 42 });
  assert.deepEqual(progress.at(-1), [0.5, 'running']);
});

test('abort cancels the task at the worker and rejects with the abort reason', async (t) => {
  const { caller, server, executor, task } = await setup(t);
  const controller = new AbortController();
  const running = dispatch(caller, {
    ...task('t-cancel', 'hold'),
    signal: controller.signal,
    onAccepted: () => controller.abort(new TaskmeshError('TIMEOUT', 'task t-cancel timed out')),
  });
  await assert.rejects(running, (err: unknown) => err instanceof TaskmeshError && err.code === 'TIMEOUT');
  await eventually('the executor to see the abort', () => executor.aborts.has('t-cancel'), { intervalMs: 5 });
  const reason = executor.aborts.get('t-cancel');
  assert.ok(reason instanceof TaskmeshError && reason.code === 'CANCELLED');
  assert.equal(server.stats().cancelled, 1);
  await server.drain(); // the CANCELLED result is still delivered and acknowledged

  const plain = new AbortController();
  plain.abort();
  await assert.rejects(
    dispatch(caller, { ...task('t-pre'), signal: plain.signal }),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'CANCELLED',
  );
  assert.equal(executor.count('t-pre'), 0);
});

test('lost cancels are retransmitted together, one flight per worker, until the worker acknowledges them', async (t) => {
  let cancelDatagrams = 0;
  const drop = dropFirst('cancel', 2);
  const { caller, executor, callerEndpoint, task } = await setup(t, {
    caller: {
      wrapSend: (send) => {
        const lossy = drop.wrapSend!(send);
        return lossySend(({ kinds }) => {
          if (kinds.includes('cancel')) cancelDatagrams++;
          return false;
        })(lossy);
      },
    },
    callerRetransmit: { ...FAST, initialDelayMs: 200 },
  });
  const one = dispatch(caller, task('c1', 'hold'));
  const two = dispatch(caller, task('c2', 'hold'));
  await eventually('both tasks to run', () => executor.count('c1') === 1 && executor.count('c2') === 1, { intervalMs: 5 });
  const before = callerEndpoint.stats().retransmitted;
  // Both aborted in one turn: their cancels share a datagram and a flight.
  caller.abort('c1', new TaskmeshError('CANCELLED', 'stop'));
  caller.abort('c2', new TaskmeshError('CANCELLED', 'stop'));
  await Promise.allSettled([one, two]);
  await eventually('the worker to see both cancels', () => executor.aborts.has('c1') && executor.aborts.has('c2'), { intervalMs: 5 });
  assert.equal(drop.dropped(), 2);
  assert.equal(cancelDatagrams, 3, 'the first send and two retransmissions, each one datagram for both');
  assert.equal(callerEndpoint.stats().retransmitted - before, 4);
});

test('drain answers new tasks BUSY and waits for in-flight results to be acknowledged', async (t) => {
  const { caller, server, executor, task } = await setup(t);
  const running = dispatch(caller, task('t-drain', 'hold'));
  await eventually('the task to run', () => executor.count('t-drain') === 1, { intervalMs: 5 });
  let drained = false;
  const draining = server.drain().then(() => (drained = true));
  assert.equal((await dispatch(caller, task('t-late'))).kind, 'busy');
  assert.equal(drained, false);
  executor.release('t-drain', 'ok');
  await running;
  await draining;
  assert.equal(executor.count('t-late'), 0);
});

test('results whose caller went away are resent as one flight, then given up: drain still ends', async (t) => {
  const { caller, server, executor, callerEndpoint, workerEndpoint, task } = await setup(t);
  const ids = ['gone-1', 'gone-2', 'gone-3'];
  for (const id of ids) void dispatch(caller, task(id, 'hold')).catch(() => undefined);
  await eventually('the tasks to run', () => ids.every((id) => executor.count(id) === 1), { intervalMs: 5 });
  caller.close();
  await callerEndpoint.close(); // nobody acknowledges the results any more
  const sent = workerEndpoint.stats().datagramsSent;
  for (const id of ids) executor.release(id, 'late');
  await server.drain(); // ends once retransmission gave up (FAST: 4 retransmissions)
  assert.equal(workerEndpoint.stats().retransmitted, ids.length * 4);
  assert.equal(workerEndpoint.stats().datagramsSent - sent, 1 + 4, 'the three results travel together, first and each time again');
});

test('a large result crosses in chunks; a payload over the limit is refused before sending', async (t) => {
  const { caller, task } = await setup(t);
  const outcome = await dispatch(caller, task('t-big', 'big', { bytes: 300_000 }));
  assert.equal(outcome.kind === 'result' && outcome.outcome.ok && (outcome.outcome.value as string).length, 300_000);
  await assert.rejects(
    dispatch(caller, task('t-huge', 'echo', 'z'.repeat(MAX_MESSAGE_BYTES))),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'PAYLOAD_TOO_LARGE',
  );
  assert.equal(caller.inFlight(), 0);
});

test('a result too large for the transport fails the task instead of vanishing', async (t) => {
  const { caller, task } = await setup(t, { worker: { maxMessageBytes: 10_000 } });
  const outcome = await dispatch(caller, task('t-toolarge', 'big', { bytes: 50_000 }));
  assert.equal(outcome.kind === 'result' && !outcome.outcome.ok && outcome.outcome.error.code, 'PAYLOAD_TOO_LARGE');
});

test('a task datagram with a bad HMAC is dropped and counted, never executed', async (t) => {
  const { executor, workerEndpoint } = await setup(t);
  const raw = dgram.createSocket('udp4');
  t.after(() => new Promise<void>((resolve) => raw.close(() => resolve())));
  // Right size and shape, signed with the wrong key.
  const forged = Buffer.concat([
    Buffer.from('TM'),
    Buffer.alloc(30),
    Buffer.from(`[{"v":${PROTOCOL_VERSION},"kind":"task","taskId":"evil","type":"echo","payload":1,"attempt":1,"timeoutMs":10}]`),
    Buffer.alloc(32),
  ]);
  await new Promise<void>((resolve, reject) =>
    raw.send(forged, workerEndpoint.address.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
  );
  await eventually('the datagram', () => workerEndpoint.stats().datagramsReceived === 1, { intervalMs: 5 });
  assert.equal(workerEndpoint.stats().dropped.auth, 1);
  assert.equal(executor.executions.length, 0);
});

test('close rejects pending dispatches with SHUTTING_DOWN; dispatching twice is a conflict', async (t) => {
  const { caller, task } = await setup(t);
  const running = dispatch(caller, task('t-close', 'hold'));
  await assert.rejects(
    dispatch(caller, task('t-close', 'hold')),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'CONFLICT',
  );
  caller.close();
  await assert.rejects(running, (err: unknown) => err instanceof TaskmeshError && err.code === 'SHUTTING_DOWN');
  await assert.rejects(dispatch(caller, task('t-after')), (err: unknown) => err instanceof TaskmeshError && err.code === 'SHUTTING_DOWN');
});

test('a restarted caller (same origin, new endpoint) takes a known task over: answered from state, never run twice', async (t) => {
  const { caller, executor, workerEndpoint, task } = await setup(t, { origin: 'dispatcher-a', callerRetransmit: PATIENT });
  const first = dispatch(caller, task('t-held', 'hold'));
  await eventually('the task to run', () => executor.count('t-held') === 1, { intervalMs: 5 });
  // The caller "crashes": a new endpoint and caller with the same identity send the task again.
  const reborn = await openEndpoint();
  const again = new TaskCaller({ endpoint: reborn, retransmit: PATIENT, origin: 'dispatcher-a' });
  t.after(async () => {
    again.close();
    await reborn.close();
  });
  const to = addressOf(workerEndpoint);
  const accepted: unknown[] = [];
  const resumed = dispatch(again, {
    to,
    taskId: 't-held',
    type: 'hold',
    payload: {},
    attempt: 2,
    timeoutMs: 10_000,
    redelivery: true,
    onAccepted: (l) => accepted.push(l),
  });
  await eventually('the redelivery to be acknowledged', () => accepted.length === 1, { intervalMs: 5 });
  executor.release('t-held', 'done once');
  const outcome = await resumed;
  assert.deepEqual(outcome.kind === 'result' && outcome.outcome, { ok: true, value: 'done once' });
  assert.equal(executor.count('t-held'), 1);
  caller.close();
  await first.catch(() => undefined);

  // A failed task redelivered is answered with its failure, not run again.
  const failed = await dispatch(again, { to, taskId: 't-failed', type: 'fail', payload: {}, attempt: 1, timeoutMs: 10_000 });
  assert.equal(failed.kind === 'result' && failed.outcome.ok, false);
  const redelivered = await dispatch(again, {
    to,
    taskId: 't-failed',
    type: 'fail',
    payload: {},
    attempt: 2,
    timeoutMs: 10_000,
    redelivery: true,
  });
  assert.equal(redelivered.kind === 'result' && redelivered.outcome.ok, false);
  assert.equal(executor.count('t-failed'), 1);
});

test('another caller using a known task id is refused, and the task stays with its own caller', async (t) => {
  const { caller, executor, workerEndpoint, task } = await setup(t, { origin: 'dispatcher-a' });
  const running = dispatch(caller, task('t-mine', 'hold'));
  await eventually('the task to run', () => executor.count('t-mine') === 1, { intervalMs: 5 });
  const stranger = await openEndpoint();
  const other = new TaskCaller({ endpoint: stranger, retransmit: FAST, origin: 'dispatcher-b' });
  t.after(async () => {
    other.close();
    await stranger.close();
  });
  const outcome = await dispatch(other, {
    to: addressOf(workerEndpoint),
    taskId: 't-mine',
    type: 'hold',
    payload: {},
    attempt: 2,
    timeoutMs: 5000,
    redelivery: true,
  });
  assert.equal(outcome.kind, 'rejected');
  assert.equal(outcome.kind === 'rejected' && outcome.error.code, 'CONFLICT');
  executor.release('t-mine', 'mine');
  const mine = await running;
  assert.deepEqual(mine.kind === 'result' && mine.outcome, { ok: true, value: 'mine' });
});

test('large tasks queued behind each other for one worker are not resent while they are still leaving', async (t) => {
  const callerEndpoint = await openEndpoint();
  const workerEndpoint = await openEndpoint();
  // A retransmission timeout far shorter than the time ten 400 KB messages take to cross.
  const caller = new TaskCaller({ endpoint: callerEndpoint, retransmit: { initialDelayMs: 2, maxDelayMs: 10, jitter: 0 } });
  const pending: Array<Promise<unknown>> = [];
  t.after(async () => {
    caller.close();
    await Promise.allSettled(pending);
    await callerEndpoint.close();
    await workerEndpoint.close();
  });
  // A receiver that takes every task and never acknowledges one: only the caller's timers act.
  const arrived = new Set<string>();
  let resentBeforeAll = -1;
  workerEndpoint.onMessage((m) => {
    if (m.kind !== 'task') return;
    arrived.add(m.taskId);
    if (arrived.size === 10 && resentBeforeAll < 0) resentBeforeAll = callerEndpoint.stats().retransmitted;
  });
  const text = 'z'.repeat(400_000);
  for (let i = 0; i < 10; i++) {
    const request = { to: addressOf(workerEndpoint), taskId: `big-${i}`, type: 'echo', payload: { text }, attempt: 1, timeoutMs: 30_000 };
    pending.push(dispatch(caller, request).catch(() => undefined));
  }
  await eventually('every task at the worker', () => arrived.size === 10, { timeoutMs: 20_000, intervalMs: 5 });
  // Each went once: none was resent while the ones before it were still crossing.
  assert.equal(resentBeforeAll, 0);
  assert.equal(workerEndpoint.stats().dropped.reassembly, 0);
});
