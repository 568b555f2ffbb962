import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { NameserviceClient, TaskRecord } from '@taskmesh/shared';
import { TEST_SECRET, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually } from './test-support.js';

/**
 * Failover by push at the dispatcher: a worker reported down (signed, at the nameservice) loses its
 * in-flight tasks at once and they run elsewhere; a worker that leaves on its own (SIGTERM: it
 * deregisters, then drains) keeps and finishes its own.
 */
let suite: LocalSuite;
before(async () => {
  suite = await startLocalSuite({ workers: ['wait', 'wait'] });
});
after(async () => {
  await suite?.stop();
});

async function runningTask(runMs: number): Promise<TaskRecord> {
  const { body } = await api(suite.dispatcherUrl!, '/v1/tasks', { body: { type: 'wait', payload: { ms: runMs } } });
  return eventually(
    'the task to run',
    async () => {
      const task = TaskRecord.parse((await api(suite.dispatcherUrl!, `/v1/tasks/${body.id}`)).body);
      return task.status === 'running' ? task : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
}

const liveWaitWorkers = async (): Promise<Array<{ name: string; pid: number }>> =>
  (
    (await api(suite.dispatcherUrl!, '/v1/workers')).body.workers as Array<{ name: string; pid: number; state: string; type: string }>
  ).filter((w) => w.type === 'wait' && w.state === 'live');

test('a worker reported down loses its task at once: it runs again at the other worker, long before the keep-alive timeout', async () => {
  await eventually('two wait workers', async () => (await liveWaitWorkers()).length === 2, { timeoutMs: 15_000 });
  const running = await runningTask(1500);
  const holder = (await liveWaitWorkers()).find((w) => w.name === running.worker)!;
  // What the runner does when the process exits (here the process lives on, paused, so only the report can tell).
  const worker = suite.workers.find((w) => w.pid === holder.pid)!;
  process.kill(worker.pid, 'SIGSTOP');
  try {
    const reportedAt = Date.now();
    const ns = new NameserviceClient({ baseUrl: suite.nameserviceUrl, secret: TEST_SECRET });
    assert.deepEqual(await ns.reportDown({ host: hostname(), pid: holder.pid, reason: 'test: reported down' }), [holder.name]);
    const done = TaskRecord.parse((await api(suite.dispatcherUrl!, `/v1/tasks/${running.id}?wait=15000`)).body);
    assert.equal(done.status, 'succeeded');
    assert.notEqual(done.worker, holder.name);
    assert.ok(done.finishedAt! - reportedAt < 1000 + 1500, `finished ${done.finishedAt! - reportedAt} ms after the report`);
    const trace = (await api(suite.dispatcherUrl!, `/v1/tasks/${running.id}/trace`)).body as { attempts: Array<{ outcome: string }> };
    assert.match(trace.attempts[0]!.outcome, new RegExp(`^WORKER_LOST worker ${holder.name} is down \\(test: reported down\\)$`));
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
});

test('a worker that leaves on its own (SIGTERM) finishes the task it holds: no failover', async () => {
  await eventually('two live wait workers', async () => (await liveWaitWorkers()).length === 2, { timeoutMs: 15_000 });
  const running = await runningTask(1500);
  const holder = (await liveWaitWorkers()).find((w) => w.name === running.worker)!;
  const worker = suite.workers.find((w) => w.pid === holder.pid)!;
  const exited = worker.kill('SIGTERM');
  const done = TaskRecord.parse((await api(suite.dispatcherUrl!, `/v1/tasks/${running.id}?wait=15000`)).body);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.worker, holder.name);
  assert.equal(done.attempts, 1);
  assert.equal((await exited).code, 0);
});
