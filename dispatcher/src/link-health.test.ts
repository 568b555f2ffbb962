import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
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
