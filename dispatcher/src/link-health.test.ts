import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually } from './test-support.js';

let suite: LocalSuite;
before(async () => {
  suite = await startLocalSuite({ workers: ['reverse'] });
});
after(async () => {
  await suite?.stop();
});

interface Link {
  srttMs: number | null;
  rttvarMs: number | null;
  retransmitRatio: number;
  busyRatio: number;
  lastAckAgeMs: number | null;
}

const linkOf = async (base: string): Promise<Link | null> => {
  const workers = (await api(base, '/v1/workers')).body.workers as Array<{ type: string; link: Link | null }>;
  return workers.find((w) => w.type === 'reverse')?.link ?? null;
};

test("each worker's link health, as the dispatcher measures it: round trip, retransmissions, BUSY, last answer", async () => {
  const base = suite.dispatcherUrl!;
  for (let i = 0; i < 20; i++) await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: `t${i}` } } });
  const healthy = (await linkOf(base))!;
  assert.ok(healthy.srttMs !== null && healthy.srttMs > 0 && healthy.srttMs < 1000, JSON.stringify(healthy));
  assert.ok(healthy.rttvarMs !== null && healthy.rttvarMs >= 0);
  assert.equal(healthy.retransmitRatio, 0);
  assert.equal(healthy.busyRatio, 0);
  assert.ok(healthy.lastAckAgeMs !== null && healthy.lastAckAgeMs < 5000);

  // A worker that stops answering: its tasks are retransmitted, and the link shows it.
  const worker = suite.workers[0]!;
  process.kill(worker.pid, 'SIGSTOP');
  try {
    const stuck = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 'to a stopped worker' }, timeoutMs: 5000 } });
    assert.equal(stuck.status, 202);
    const degraded = await eventually('retransmissions to show on the link', async () => {
      const link = await linkOf(base);
      return link !== null && link.retransmitRatio > 0 ? link : undefined;
    });
    assert.ok(degraded.lastAckAgeMs! > 0);
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
});

test('tasks are found by id prefix, worker, type, status and time, paged', async () => {
  const base = suite.dispatcherUrl!;
  const since = Date.now();
  const made = await api(base, '/v1/tasks?wait=5000', { body: { type: 'reverse', payload: { text: 'find me' } } });
  const { id, worker } = made.body as { id: string; worker: string };
  const byPrefix = await api(base, `/v1/tasks?id=${id.slice(0, 20)}`);
  assert.ok(byPrefix.body.tasks.some((t: { id: string }) => t.id === id));
  assert.ok(byPrefix.body.tasks.every((t: { id: string }) => t.id.startsWith(id.slice(0, 20))));
  const byWorker = await api(base, `/v1/tasks?worker=${worker}&status=succeeded&type=reverse&since=${since}`);
  assert.deepEqual(
    byWorker.body.tasks.map((t: { id: string }) => t.id),
    [id],
  );
  assert.equal((await api(base, `/v1/tasks?worker=nobody-at-all`)).body.tasks.length, 0);
  const bad = await api(base, '/v1/tasks?id=not-hex!');
  assert.deepEqual([bad.status, bad.body.error.code], [400, 'INVALID_REQUEST']);
});

test('bulk actions on a filtered set, through the API and the CLI: retry every failed task of a type, cancel every queued one', async () => {
  const base = suite.dispatcherUrl!;
  const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'client/dist/main.js'), '--dispatcher', base, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const worker = suite.workers[0]!;
  const submit = async (n: number, timeoutMs: number): Promise<string[]> =>
    (
      await api(base, '/v1/tasks/batch', {
        body: {
          tasks: Array.from({ length: n }, (_, i) => ({ type: 'reverse', payload: { text: `bulk ${i}` }, timeoutMs, maxAttempts: 1 })),
        },
      })
    ).body.ids;
  // Five tasks time out at a stopped worker: failed.
  process.kill(worker.pid, 'SIGSTOP');
  let failed: string[];
  try {
    failed = await submit(5, 400);
    await eventually('the five to fail', async () => {
      const records = await Promise.all(failed.map(async (id) => (await api(base, `/v1/tasks/${id}`)).body.status));
      return records.every((s) => s === 'failed');
    });
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
  const retried = cli('retry', '--status', 'failed', '--type', 'reverse', '--json');
  assert.equal(retried.status, 0, retried.stderr);
  const answer = JSON.parse(retried.stdout) as { matched: number; changed: number };
  assert.ok(answer.changed >= 5 && answer.matched >= answer.changed, retried.stdout);
  for (const id of failed) assert.equal((await api(base, `/v1/tasks/${id}?wait=10000`)).body.status, 'succeeded');

  // Queued ones at a stopped worker are cancelled together.
  process.kill(worker.pid, 'SIGSTOP');
  try {
    const queued = await submit(4, 30_000);
    const cancelled = cli('cancel', '--status', 'queued', '--type', 'reverse');
    assert.equal(cancelled.status, 0, cancelled.stderr);
    assert.match(cancelled.stdout, /^cancelled 4 of 4 matching tasks/);
    for (const id of queued) assert.equal((await api(base, `/v1/tasks/${id}`)).body.status, 'cancelled');
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
  const none = cli('retry');
  assert.equal(none.status, 2);
  const unfiltered = await api(base, '/v1/tasks/bulk/cancel', { body: {} });
  assert.deepEqual([unfiltered.status, unfiltered.body.error.code], [400, 'INVALID_REQUEST']);
});
