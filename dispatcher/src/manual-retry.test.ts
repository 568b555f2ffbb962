import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { api, typeKnown } from './test-support.js';

/**
 * A manual retry runs the task again, even at a worker that remembers an earlier attempt of it:
 * each attempt goes with a number of its own. The worker's type fails its first call only.
 */
const FIRST_FAILS = `import { defineTaskType, z } from '@taskmesh/worker';
let calls = 0;
export default defineTaskType({
  name: 'firstfails',
  description: 'Fails its first call, then answers',
  payload: z.object({ text: z.string() }),
  quick: () => true,
  handle: ({ text }) => {
    calls++;
    if (calls === 1) throw new Error('the first call fails');
    return { text, calls };
  },
});
`;

let suite: LocalSuite;
let base: string;
let dir: string;
let worker: RunningService;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskmesh-manual-retry-'));
  await writeFile(join(dir, 'firstfails.mjs'), FIRST_FAILS);
  suite = await startLocalSuite({ workers: [] });
  worker = await suite.addWorker('firstfails', { TASKMESH_WORKER_MODULE: join(dir, 'firstfails.mjs') });
  base = suite.dispatcherUrl!;
  await typeKnown(base, 'firstfails');
});
after(async () => {
  await suite?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('a task whose only attempt timed out unacknowledged, then failed at the worker, runs again when retried', async () => {
  // The worker is stopped: the attempt is sent and never acknowledged, and the task times out.
  process.kill(worker.pid, 'SIGSTOP');
  let id: string;
  try {
    const submitted = await api(base, '/v1/tasks', {
      body: { type: 'firstfails', payload: { text: 'a' }, timeoutMs: 300, maxAttempts: 1 },
    });
    id = submitted.body.id as string;
    const failed = await api(base, `/v1/tasks/${id}?wait=5000`);
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.error.code, 'TIMEOUT');
    // The attempt counts: it was sent, and the worker may have run it (it will).
    assert.equal(failed.body.attempts, 1);
  } finally {
    process.kill(worker.pid, 'SIGCONT');
  }
  // Once a later task is answered, the worker has read (and run) the stopped attempt: its first call, which failed.
  const probe = await api(base, '/v1/tasks?wait=5000', { body: { type: 'firstfails', payload: { text: 'probe' } } });
  assert.equal(probe.body.status, 'succeeded');
  assert.equal(probe.body.result.calls, 2);
  const retried = await api(base, `/v1/tasks/${id}/retry`, { body: {} });
  assert.equal(retried.status, 202, JSON.stringify(retried.body));
  const done = await api(base, `/v1/tasks/${id}?wait=5000`);
  assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body.error));
  assert.deepEqual(done.body.result, { text: 'a', calls: 3 }, 'it ran again');
  const trace = await api(base, `/v1/tasks/${id}/trace`);
  assert.deepEqual(
    trace.body.attempts.map((a: { attempt: number }) => a.attempt),
    [1, 2],
  );
});
