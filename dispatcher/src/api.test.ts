import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MAX_BATCH_TASKS, TaskEvent, TaskRecord } from '@taskmesh/shared';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, openSocket, PNG_SIGNATURE } from './test-support.js';

// One real suite (nameservice, a worker of every type, the dispatcher) for the happy paths.
let suite: LocalSuite;
let base: string;

before(async () => {
  suite = await startLocalSuite({});
  // One at a time: six processes starting at once on a busy 2-core machine can miss the ready timeout.
  for (const type of ['reverse', 'upper', 'hash', 'sum', 'wait', 'image']) await suite.addWorker(type);
  base = suite.dispatcherUrl!;
});

after(async () => {
  await suite?.stop();
});

const run = async (type: string, payload: unknown): Promise<TaskRecord> => {
  const res = await api(base, '/v1/tasks?wait=20000', { body: { type, payload } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const record = TaskRecord.parse(res.body);
  assert.equal(record.status, 'succeeded', JSON.stringify(record.error));
  return record;
};

describe('each task type through the HTTP API', () => {
  test('reverse', async () => {
    const r = await run('reverse', { text: 'taskmesh 👍🏽' });
    assert.deepEqual(r.result, { text: '👍🏽 hsemksat' });
    assert.equal(r.attempts, 1);
    assert.ok(r.worker?.startsWith('reverse'), r.worker ?? 'no worker');
    assert.ok(r.finishedAt! >= r.startedAt! && r.startedAt! >= r.createdAt);
  });

  test('upper', async () => {
    assert.deepEqual((await run('upper', { text: 'straße' })).result, { text: 'STRASSE' });
  });

  test('hash (sha256 test vector)', async () => {
    const r = await run('hash', { text: 'abc' });
    assert.deepEqual(r.result, {
      algorithm: 'sha256',
      encoding: 'hex',
      digest: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    });
  });

  test('sum', async () => {
    assert.deepEqual((await run('sum', { numbers: ['9007199254740993', 1, 2] })).result, {
      sum: '9007199254740996',
      exact: true,
      count: 3,
    });
  });

  test('wait', async () => {
    const r = await run('wait', { ms: 150 });
    const result = r.result as { requestedMs: number; waitedMs: number };
    assert.equal(result.requestedMs, 150);
    assert.ok(result.waitedMs >= 150);
    assert.equal(r.progress, 1);
  });

  test('image renders a real PNG', async () => {
    const r = await run('image', { width: 64, height: 48, text: 'hi' });
    const result = r.result as { format: string; width: number; height: number; data: string };
    assert.equal(result.format, 'png');
    const png = Buffer.from(result.data, 'base64');
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    // IHDR: width and height as big-endian integers at bytes 16 and 20.
    assert.equal(png.readUInt32BE(16), 64);
    assert.equal(png.readUInt32BE(20), 48);
  });

  test("a handler failure is final: failed with the worker's error, one attempt", async () => {
    // A valid payload whose sum the handler cannot represent (beyond the range of a double).
    const res = await api(base, '/v1/tasks?wait=10000', { body: { type: 'sum', payload: { numbers: [1e308, 1e308, 0.5] } } });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'failed');
    assert.equal(res.body.attempts, 1);
    assert.match(res.body.error.code, /INVALID_PAYLOAD/);
  });
});

describe('submission', () => {
  test('POST /v1/tasks answers 202 {id, status}, GET returns the record', async () => {
    const res = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'abc' } } });
    assert.equal(res.status, 202);
    assert.deepEqual(Object.keys(res.body).sort(), ['id', 'status']);
    const done = await api(base, `/v1/tasks/${res.body.id}`);
    assert.equal(done.status, 200);
    assert.equal(done.body.id, res.body.id);
    assert.equal(done.body.type, 'reverse');
  });

  test('?wait that runs out answers 202 with the task still running', async () => {
    const started = Date.now();
    const res = await api(base, '/v1/tasks?wait=200', { body: { type: 'wait', payload: { ms: 1500 } } });
    assert.equal(res.status, 202);
    assert.ok(Date.now() - started >= 190);
    assert.ok(['queued', 'running'].includes(res.body.status));
    const later = await api(base, `/v1/tasks/${res.body.id}?wait=5000`);
    assert.equal(later.status, 200);
    assert.equal(later.body.status, 'succeeded');
  });

  test('batch: all ids, every task done', async () => {
    const tasks = Array.from({ length: 200 }, (_, i) => ({ type: 'hash', payload: { text: `t${i}` } }));
    const res = await api(base, '/v1/tasks/batch', { body: { tasks } });
    assert.equal(res.status, 202);
    assert.equal(res.body.ids.length, 200);
    assert.equal(new Set(res.body.ids).size, 200);
    for (const [i, id] of (res.body.ids as string[]).entries()) {
      const r = await api(base, `/v1/tasks/${id}?wait=10000`);
      assert.equal(r.body.status, 'succeeded');
      assert.equal(r.body.result.digest, createHash('sha256').update(`t${i}`).digest('hex'));
    }
  });

  test('batch over MAX_BATCH_TASKS: 413 naming the limit, nothing created', async () => {
    const before = (await api(base, '/v1/tasks?limit=1000')).body.tasks.length;
    const tasks = Array.from({ length: MAX_BATCH_TASKS + 1 }, () => ({ type: 'hash', payload: { text: 'x' } }));
    const res = await api(base, '/v1/tasks/batch', { body: { tasks } });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(res.body.error.message, new RegExp(String(MAX_BATCH_TASKS)));
    assert.equal((await api(base, '/v1/tasks?limit=1000')).body.tasks.length, before);
  });

  test('batch with one bad task: 400 naming its index, nothing created', async () => {
    const key = `batch-${Date.now()}`;
    const res = await api(base, '/v1/tasks/batch', {
      body: {
        tasks: [
          { type: 'hash', payload: { text: 'a' }, idempotencyKey: key },
          { type: 'nope', payload: {} },
        ],
      },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'UNKNOWN_TYPE');
    assert.match(res.body.error.message, /tasks\.1\.type/);
    const again = await api(base, '/v1/tasks', { body: { type: 'hash', payload: { text: 'a' }, idempotencyKey: key } });
    assert.equal(again.status, 202, 'the first task of the refused batch was never created');
  });

  test('the same idempotency key returns the same task', async () => {
    const key = `idem-${Date.now()}`;
    const first = await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: 'once' }, idempotencyKey: key } });
    assert.equal(first.status, 200);
    const second = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'once' }, idempotencyKey: key } });
    assert.equal(second.status, 200);
    assert.equal(second.body.id, first.body.id);
    const waited = await api(base, '/v1/tasks?wait=1000', { body: { type: 'reverse', payload: { text: 'once' }, idempotencyKey: key } });
    assert.equal(waited.body.id, first.body.id);
    assert.deepEqual(waited.body.result, { text: 'ecno' });
    const list = await api(base, '/v1/tasks?type=reverse&limit=1000');
    assert.equal(list.body.tasks.filter((t: TaskRecord) => t.idempotencyKey === key).length, 1);
    const otherType = await api(base, '/v1/tasks', { body: { type: 'upper', payload: { text: 'once' }, idempotencyKey: key } });
    assert.equal(otherType.status, 409);
  });
});

describe('bad input is answered with a 4xx naming the problem', () => {
  const expectError = async (res: Promise<{ status: number; body: any }>, status: number, code: string, pattern: RegExp): Promise<void> => {
    const r = await res;
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code);
    assert.match(r.body.error.message, pattern);
  };

  test('malformed JSON', () =>
    expectError(
      api(base, '/v1/tasks', { raw: '{"type": "reverse",', headers: { 'content-type': 'application/json' } }),
      400,
      'INVALID_REQUEST',
      /malformed JSON/,
    ));
  test('unknown field', () =>
    expectError(api(base, '/v1/tasks', { body: { type: 'reverse', payload: {}, colour: 'red' } }), 400, 'INVALID_REQUEST', /colour/));
  test('wrong type', () =>
    expectError(
      api(base, '/v1/tasks', { body: { type: 'reverse', payload: {}, timeoutMs: 'soon' } }),
      400,
      'INVALID_REQUEST',
      /timeoutMs/,
    ));
  test('not an object', () => expectError(api(base, '/v1/tasks', { body: ['reverse'] }), 400, 'INVALID_REQUEST', /object/));
  test('wrong content type', () =>
    expectError(
      api(base, '/v1/tasks', { raw: 'type=reverse', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    ));
  test('oversized body', () =>
    expectError(
      api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'x'.repeat(6 * 1024 * 1024) } } }),
      413,
      'PAYLOAD_TOO_LARGE',
      /bytes/,
    ));
  test('unknown type lists the known types', () =>
    expectError(
      api(base, '/v1/tasks', { body: { type: 'teleport', payload: {} } }),
      400,
      'UNKNOWN_TYPE',
      /reverse.*hash.*sum.*upper.*wait.*image/,
    ));
  test('unknown id is 404', () => expectError(api(base, '/v1/tasks/no-such-task'), 404, 'NOT_FOUND', /no-such-task/));
  test('bad list filter', () => expectError(api(base, '/v1/tasks?status=lost'), 400, 'INVALID_REQUEST', /status/));
  test('bad wait', () =>
    expectError(api(base, '/v1/tasks?wait=-1', { body: { type: 'reverse', payload: { text: 'x' } } }), 400, 'INVALID_REQUEST', /wait/));
  test('a payload the type refuses is 400 INVALID_PAYLOAD at submit, naming the field; the service keeps running', async () => {
    const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { words: 1 } } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_PAYLOAD');
    assert.match(r.body.error.message, /text/);
    assert.equal((await api(base, '/healthz')).body.status, 'ok');
  });
});

describe('events and streams', () => {
  test('/v1/events: submitted → dispatched → succeeded, filtered by type', async () => {
    const sock = await openSocket(`${base.replace('http', 'ws')}/v1/events?type=reverse`);
    try {
      await api(base, '/v1/tasks?wait=5000', { body: { type: 'upper', payload: { text: 'not me' } } });
      const res = await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: 'me' } } });
      const id = res.body.id as string;
      await sock.next((m) => JSON.parse(m.data.toString()).taskId === id && JSON.parse(m.data.toString()).event === 'succeeded');
      const events = sock.messages.map((m) => TaskEvent.parse(JSON.parse(m.data.toString())));
      assert.ok(
        events.every((e) => e.type === 'reverse'),
        'only reverse events',
      );
      const mine = events.filter((e) => e.taskId === id).map((e) => e.event);
      assert.deepEqual(mine, ['submitted', 'dispatched', 'succeeded']);
      const dispatched = events.find((e) => e.taskId === id && e.event === 'dispatched')!;
      assert.ok(dispatched.worker?.startsWith('reverse'));
      assert.ok(events.find((e) => e.taskId === id && e.event === 'succeeded')!.latencyMs! >= 0);
    } finally {
      sock.close();
    }
  });

  test('/v1/events?taskId= only sends that task', async () => {
    const res = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: 400 } } });
    const id = res.body.id as string;
    const sock = await openSocket(`${base.replace('http', 'ws')}/v1/events?taskId=${id},other`);
    try {
      await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: 'noise' } } });
      await sock.next((m) => JSON.parse(m.data.toString()).event === 'succeeded');
      assert.ok(sock.messages.every((m) => JSON.parse(m.data.toString()).taskId === id));
    } finally {
      sock.close();
    }
  });

  test('/v1/events?event= only sends those kinds; an unknown kind is refused', async () => {
    const sock = await openSocket(`${base.replace('http', 'ws')}/v1/events?event=succeeded,failed&type=reverse`);
    try {
      const res = await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: 'only the end' } } });
      await sock.next((m) => JSON.parse(m.data.toString()).taskId === res.body.id);
      const events = sock.messages.map((m) => TaskEvent.parse(JSON.parse(m.data.toString())));
      assert.ok(
        events.every((e) => e.event === 'succeeded' || e.event === 'failed'),
        JSON.stringify(events),
      );
    } finally {
      sock.close();
    }
    await assert.rejects(
      openSocket(`${base.replace('http', 'ws')}/v1/events?event=finished`),
      (err: { statusCode?: number }) => err.statusCode === 400,
    );
  });

  test('/v1/stream/image sends PNG frames as binary messages', async () => {
    const sock = await openSocket(`${base.replace('http', 'ws')}/v1/stream/image?fps=10&width=96&height=64&text=stream`);
    try {
      await sock.next(() => sock.messages.filter((m) => m.binary).length >= 3, 20_000);
      const frames = sock.messages.filter((m) => m.binary).map((m) => m.data);
      for (const f of frames) assert.deepEqual(f.subarray(0, 8), PNG_SIGNATURE);
      assert.equal(frames[0]!.readUInt32BE(16), 96);
      assert.ok(
        frames.some((f) => !f.equals(frames[0]!)),
        'frames differ',
      );
    } finally {
      sock.close();
    }
    const tasks = await api(base, '/v1/tasks?type=image&limit=1000');
    assert.ok(tasks.body.tasks.length <= 1, 'stream frames are not kept as task records');
  });

  test('a bad stream query is refused', async () => {
    await assert.rejects(
      openSocket(`${base.replace('http', 'ws')}/v1/stream/image?fps=500`),
      (err: { statusCode?: number }) => err.statusCode === 400,
    );
  });
});

describe('observability', () => {
  test('/metrics has the named series', async () => {
    await run('reverse', { text: 'metrics' });
    const res = await api(base, '/metrics');
    assert.equal(res.status, 200);
    const text = String(res.body);
    for (const series of [
      /taskmesh_dispatcher_tasks_total\{type="reverse",status="succeeded"\} [1-9]/,
      /taskmesh_dispatcher_task_latency_seconds_bucket\{le="0.005",type="reverse"\}/,
      /taskmesh_dispatcher_tasks_in_flight \d/,
      /# TYPE taskmesh_dispatcher_retries_total counter/,
      /taskmesh_dispatcher_datagrams_sent_total [1-9]/,
      /taskmesh_dispatcher_datagrams_received_total [1-9]/,
      /taskmesh_dispatcher_datagrams_retransmitted_total \d/,
      /taskmesh_dispatcher_datagrams_dropped_total\{reason="auth"\} \d/,
      /taskmesh_dispatcher_pending_tasks \d/,
      /taskmesh_dispatcher_stream_frames_total/,
      /process_cpu_user_seconds_total/,
    ]) {
      assert.match(text, series);
    }
  });

  test('/v1/stats, /v1/workers and /healthz', async () => {
    const stats = await api(base, '/v1/stats');
    assert.equal(stats.status, 200);
    assert.ok(stats.body.types.reverse.succeeded >= 1);
    assert.equal(stats.body.throughput.perSecond.length, 300);
    assert.ok(stats.body.throughput.perSecond.reduce((a: number, b: number) => a + b, 0) >= 1);
    assert.ok(stats.body.latencyMs.p50 > 0 && stats.body.latencyMs.p99 >= stats.body.latencyMs.p50);
    const workers = await api(base, '/v1/workers');
    assert.equal(workers.status, 200);
    const types = new Set(workers.body.workers.map((w: { type: string }) => w.type));
    for (const t of ['reverse', 'upper', 'hash', 'sum', 'wait', 'image']) assert.ok(types.has(t), t);
    assert.ok(
      workers.body.workers.every((w: { dispatcherInFlight: number; loadRatio: number }) => w.dispatcherInFlight >= 0 && w.loadRatio >= 0),
    );
    const health = await api(base, '/healthz');
    const { journal, http, ...rest } = health.body;
    assert.deepEqual({ ...rest, pending: 0, inFlight: 0 }, { status: 'ok', nameservice: true, workers: 6, pending: 0, inFlight: 0 });
    assert.equal(http.bodyBytesInFlight, 0);
    assert.ok(http.connections >= 1);
    assert.equal(journal.sync, 'process');
    assert.deepEqual(journal.corrupt, { count: 0, reasons: [], movedTo: null });
  });
});
