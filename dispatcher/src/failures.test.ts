import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NameserviceClient, TaskRecord } from '@taskmesh/shared';
import { TEST_SECRET, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually, openSocket } from './test-support.js';

// Failure handling against real processes: two wait workers, workers killed and started late.
let suite: LocalSuite;
let base: string;
let nameservice: NameserviceClient;

before(async () => {
  suite = await startLocalSuite({ workers: ['wait'] });
  await suite.addWorker('wait');
  base = suite.dispatcherUrl!;
  nameservice = new NameserviceClient({ secret: TEST_SECRET, baseUrl: suite.nameserviceUrl });
});

after(async () => {
  await suite?.stop();
});

/** Waits until the task runs at a worker and returns the worker's name. */
async function runningAt(id: string): Promise<string> {
  return eventually(`task ${id} running`, async () => {
    const r = await api(base, `/v1/tasks/${id}`);
    return r.body.status === 'running' && r.body.worker !== null ? (r.body.worker as string) : undefined;
  });
}

/** Waits until the worker's own load report (its heartbeat) shows no task queued or running. */
async function workerIdle(worker: string, what: string): Promise<void> {
  await eventually(
    what,
    async () => {
      const w = (await nameservice.list()).find((x) => x.name === worker);
      return w !== undefined && w.load.inFlight === 0 && w.load.queued === 0 ? true : undefined;
    },
    { timeoutMs: 5000 },
  );
}

test('cancelling a running wait task stops it at the worker', async () => {
  const res = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: 60_000 } } });
  const id = res.body.id as string;
  const worker = await runningAt(id);
  const cancelled = await api(base, `/v1/tasks/${id}`, { method: 'DELETE' });
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body.status, 'cancelled');
  assert.equal(cancelled.body.error.code, 'CANCELLED');
  // The worker's own load report (its heartbeat) shows the slot free long before 60 s.
  await workerIdle(worker, 'the worker to stop the task');
  const again = await api(base, `/v1/tasks/${id}`, { method: 'DELETE' });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, 'CONFLICT');
});

test('a worker SIGKILLed mid-task: the task runs again on the other one and succeeds', async () => {
  const res = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: 1500 } } });
  const id = res.body.id as string;
  const sock = await openSocket(`${base.replace('http', 'ws')}/v1/events?taskId=${id}`);
  try {
    const first = await runningAt(id);
    const record = (await nameservice.list()).find((w) => w.name === first)!;
    const victim = suite.workers.find((w) => w.pid === record.pid);
    assert.ok(victim, `worker process of ${first}`);
    await victim.kill('SIGKILL');
    const done = await api(base, `/v1/tasks/${id}?wait=20000`);
    const final = TaskRecord.parse(done.body);
    assert.equal(final.status, 'succeeded', JSON.stringify(final.error));
    assert.notEqual(final.worker, first);
    assert.ok(final.attempts >= 2);
    await sock.next((m) => JSON.parse(m.data.toString()).event === 'succeeded');
    const kinds = sock.messages.map((m) => JSON.parse(m.data.toString()).event as string);
    assert.ok(kinds.includes('retrying'), kinds.join(','));
  } finally {
    sock.close();
  }
});

test('no worker of a type: the task fails with TIMEOUT, lands in the failed list, succeeds on retry', async () => {
  const res = await api(base, '/v1/tasks?wait=5000', { body: { type: 'upper', payload: { text: 'late' }, timeoutMs: 300 } });
  assert.equal(res.status, 200);
  assert.equal(res.body.status, 'failed');
  assert.equal(res.body.error.code, 'TIMEOUT');
  const id = res.body.id as string;
  const failed = await api(base, '/v1/tasks?status=failed&type=upper');
  assert.deepEqual(
    failed.body.tasks.map((t: TaskRecord) => t.id),
    [id],
  );
  const queued = await api(base, `/v1/tasks/${id}`, { method: 'DELETE' });
  assert.equal(queued.status, 409, 'a final task cannot be cancelled');
  await suite.addWorker('upper');
  const retried = await api(base, `/v1/tasks/${id}/retry`, { body: { timeoutMs: 10_000 } });
  assert.equal(retried.status, 202);
  assert.equal(retried.body.id, id);
  const done = await api(base, `/v1/tasks/${id}?wait=10000`);
  assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body.error));
  assert.deepEqual(done.body.result, { text: 'LATE' });
  assert.equal(done.body.id, id);
  const conflict = await api(base, `/v1/tasks/${id}/retry`, { method: 'POST' });
  assert.equal(conflict.status, 409);
  assert.equal((await api(base, '/v1/tasks?status=failed&type=upper')).body.tasks.length, 0);
});

test('a task past its timeout at the worker fails with TIMEOUT and is stopped there', async () => {
  const res = await api(base, '/v1/tasks', { body: { type: 'wait', payload: { ms: 60_000 }, timeoutMs: 1500 } });
  const id = res.body.id as string;
  const worker = await runningAt(id);
  const done = await api(base, `/v1/tasks/${id}?wait=10000`);
  assert.equal(done.body.status, 'failed');
  assert.equal(done.body.error.code, 'TIMEOUT');
  assert.match(done.body.error.message, new RegExp(`at worker ${worker}`));
  await workerIdle(worker, 'the worker to stop the timed-out task');
});

// Last: it stops the dispatcher.
test('SIGTERM closes the WebSockets and exits 0', async () => {
  const sock = await openSocket(`${base.replace('http', 'ws')}/v1/events`);
  const closed = new Promise<number>((resolve) => sock.ws.once('close', (code) => resolve(code)));
  const exit = await suite.dispatcher!.kill('SIGTERM');
  assert.equal(exit.code, 0);
  assert.equal(await closed, 1001);
});
