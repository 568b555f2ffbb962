import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadImage } from '@napi-rs/canvas';
import { MAX_CHUNK_PAYLOAD, UdpEndpoint, type Message } from '@taskmesh/shared';
import { TEST_SECRET, startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { linesFor, openTestCaller, valueOf, workerAddress, type TestCaller } from './integration-support.js';

/** Real processes: a nameservice and one worker per type, spoken to over authenticated UDP. */
let suite: LocalSuite;
let caller: TestCaller;
const byType = new Map<string, RunningService>();
const worker = (type: string): RunningService => byType.get(type)!;

before(async () => {
  const types = ['reverse', 'upper', 'hash', 'sum', 'wait', 'image'];
  suite = await startLocalSuite({ dispatcher: false, workers: types, workerEnv: { TASKMESH_LOG_LEVEL: 'debug' } });
  for (const w of suite.workers) byType.set(String(w.ready.type), w);
  caller = await openTestCaller();
});
after(async () => {
  await caller?.close();
  await suite?.stop();
});

test('every worker announced itself ready with its type, name and advertised address', () => {
  for (const type of ['reverse', 'upper', 'hash', 'sum', 'wait', 'image']) {
    const ready = worker(type).ready;
    assert.equal(ready.type, type);
    assert.equal(ready.advertise, '127.0.0.1');
    assert.match(String(ready.name), new RegExp(`^${type}-.+-${worker(type).pid}$`));
    assert.ok(typeof ready.udp === 'number' && ready.udp > 0);
  }
});

test('a task of each type over UDP returns its result', async () => {
  assert.deepEqual(valueOf(await caller.run(worker('reverse'), 'reverse', { text: 'ab👍🏽e\u0301🇩🇪' })), { text: '🇩🇪e\u0301👍🏽ba' });
  assert.deepEqual(valueOf(await caller.run(worker('upper'), 'upper', { text: 'straße über' })), { text: 'STRASSE ÜBER' });
  assert.deepEqual(valueOf(await caller.run(worker('hash'), 'hash', { text: 'abc', algorithm: 'md5' })), {
    algorithm: 'md5',
    encoding: 'hex',
    digest: '900150983cd24fb0d6963f7d28e17f72',
  });
  assert.deepEqual(valueOf(await caller.run(worker('sum'), 'sum', { numbers: ['9007199254740993', '1'] })), {
    sum: '9007199254740994',
    exact: true,
    count: 2,
  });
  const waited = valueOf(await caller.run(worker('wait'), 'wait', { ms: 120 })) as { waitedMs: number };
  assert.ok(waited.waitedMs >= 115);
  const image = valueOf(await caller.run(worker('image'), 'image', { width: 100, height: 50, format: 'jpeg' })) as {
    worker: string;
    width: number;
  };
  assert.equal(image.worker, worker('image').ready.name);
  assert.equal(image.width, 100);
});

test('a quick task is answered by its result alone; a long one is acknowledged first', async () => {
  const acks: string[] = [];
  const short = await caller.run(worker('reverse'), 'reverse', { text: 'quick' }, { onAccepted: () => acks.push('short') });
  assert.deepEqual(valueOf(short), { text: 'kciuq' });
  const long = await caller.run(worker('reverse'), 'reverse', { text: 'x'.repeat(5000) }, { onAccepted: () => acks.push('long') });
  assert.equal((valueOf(long) as { text: string }).text.length, 5000);
  assert.deepEqual(acks, ['long']);
});

test('a bad payload is rejected naming the field, and the worker keeps serving', async () => {
  const bad = await caller.run(worker('sum'), 'sum', { numbers: [1, 'abc'] });
  assert.equal(bad.kind, 'rejected');
  assert.equal(bad.kind === 'rejected' && bad.error.code, 'INVALID_PAYLOAD');
  assert.match(bad.kind === 'rejected' ? bad.error.message : '', /numbers\[1\]/);
  const wrongType = await caller.run(worker('sum'), 'hash', { text: 'x' });
  assert.equal(wrongType.kind === 'rejected' && wrongType.error.code, 'UNKNOWN_TYPE');
  assert.deepEqual(valueOf(await caller.run(worker('sum'), 'sum', { numbers: [1, 2] })), { sum: 3, exact: true, count: 2 });
});

test('an image larger than one datagram arrives whole and decodes', async () => {
  const value = valueOf(await caller.run(worker('image'), 'image', { width: 1024, height: 768, text: 'integration' })) as {
    data: string;
    bytes: number;
  };
  const bytes = Buffer.from(value.data, 'base64');
  assert.equal(bytes.length, value.bytes);
  assert.ok(value.data.length > 10 * MAX_CHUNK_PAYLOAD, `a ${bytes.length}-byte PNG travels in many datagrams`);
  const decoded = await loadImage(bytes);
  assert.deepEqual([decoded.width, decoded.height], [1024, 768]);
});

test('a retransmitted task runs once: duplicates are re-acknowledged, then answered from the result cache', async () => {
  const endpoint = await UdpEndpoint.open({ secret: TEST_SECRET, host: '127.0.0.1', port: 0 });
  const received: Message[] = [];
  endpoint.onMessage((m) => received.push(m));
  try {
    const taskId = randomUUID();
    const to = workerAddress(worker('wait'));
    const task = { kind: 'task', taskId, type: 'wait', payload: { ms: 600 }, attempt: 1, timeoutMs: 10_000 } as const;
    endpoint.send(task, to);
    await worker('wait').waitForLine((l) => l.event === 'task-started' && l.taskId === taskId);
    endpoint.send(task, to); // as a caller would after losing the ack
    endpoint.send(task, to);
    const finished = await worker('wait').waitForLine((l) => l.event === 'task-finished' && l.taskId === taskId);
    assert.equal(finished.ok, true);
    // Bounded wait for the result to come back over UDP.
    for (let i = 0; i < 100 && !received.some((m) => m.kind === 'result'); i++) await new Promise((r) => setTimeout(r, 20));
    const first = received.find((m) => m.kind === 'result');
    assert.ok(first !== undefined && first.kind === 'result');
    // After the result, the same task again gets the cached result, not a new run.
    endpoint.send(task, to);
    for (let i = 0; i < 100 && received.filter((m) => m.kind === 'result').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const results = received.filter((m) => m.kind === 'result');
    assert.ok(results.length >= 2, 'the late duplicate is answered with the result');
    for (const r of results) assert.deepEqual(r, first);
    // The one run took its 600 ms, counted from the first receipt.
    assert.ok(first.durationMs >= 590 && first.durationMs < 1100, `durationMs ${first.durationMs}`);
    assert.ok(received.filter((m) => m.kind === 'ack' && m.taskId === taskId).every((m) => m.kind === 'ack' && m.status === 'accepted'));
    assert.equal(linesFor(worker('wait'), 'task-started', taskId).length, 1);
    assert.equal(linesFor(worker('wait'), 'task-finished', taskId).length, 1);
    endpoint.send({ kind: 'result-ack', taskIds: [taskId] }, to);
  } finally {
    await endpoint.close();
  }
});

test('datagrams with a bad HMAC are dropped, unanswered, and counted', async () => {
  const forger = await UdpEndpoint.open({ secret: 'not-the-secret', host: '127.0.0.1', port: 0 });
  const answers: Message[] = [];
  forger.onMessage((m) => answers.push(m));
  try {
    const w = worker('hash');
    forger.send(
      { kind: 'task', taskId: randomUUID(), type: 'hash', payload: { text: 'x' }, attempt: 1, timeoutMs: 5000 },
      workerAddress(w),
    );
    const line = await w.waitForLine((l) => l.event === 'dropped' && ((l.dropped as { auth?: number } | undefined)?.auth ?? 0) >= 1, 5000);
    assert.ok((line.droppedTotal as number) >= 1);
    assert.deepEqual(answers, []);
    // And the worker still serves honest callers.
    assert.equal((valueOf(await caller.run(w, 'hash', { text: 'abc' })) as { digest: string }).digest.length, 64);
  } finally {
    await forger.close();
  }
});
