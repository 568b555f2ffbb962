import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiClient, runBench, type BenchReport } from '@taskmesh/client';
import { REPO_ROOT, startRunner } from '@taskmesh/shared/testing';
import { waitForLiveWorkers } from './live-workers.js';

/** The workload as a user meets it, beside the tuned one: what `npm start` gives, measured. */
export interface PublicWorkload {
  /** Batch tasks, sent in batches of 500, four requests in flight, none held back, none untimed. */
  tasks: number;
  /** Then one-at-a-time submit-and-wait calls. */
  sequential: number;
  log: (line: string) => void;
}

/**
 * Runs the public workload against the real runner (`npm start`) with the repository's
 * workers.json (one worker per type by default): `reverse` tasks in batches of 500, 4 requests in
 * flight with no window and no warm-up, counted by the event stream, then one at a time with `?wait`.
 */
export async function measurePublicWorkload(options: PublicWorkload): Promise<BenchReport> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-bench-public-'));
  const { workers } = JSON.parse(await readFile(join(REPO_ROOT, 'workers.json'), 'utf8')) as {
    workers: Record<string, { module?: string }>;
  };
  // The runner runs in a folder of its own: a user module's path is the repository's.
  for (const spec of Object.values(workers)) if (spec.module !== undefined) spec.module = resolve(REPO_ROOT, spec.module);
  options.log(
    `bench: npm start's suite (workers.json), ${options.tasks} reverse tasks in batches of 500, then ${options.sequential} one at a time…`,
  );
  const runner = await startRunner({ dir, workers, env: { TASKMESH_LOG_LEVEL: 'warn' }, stderr: 'inherit' });
  const api = new ApiClient({ baseUrl: runner.urls.dispatcher, maxSockets: 6, backend: 'undici' });
  try {
    await runner.ready;
    await waitForLiveWorkers(api, 'reverse', 1);
    return await runBench({
      api,
      type: 'reverse',
      phases: ['batch', 'latency'],
      tasks: options.tasks,
      batchSize: 500,
      concurrency: 4,
      window: options.tasks,
      batchWarmup: 0,
      sequential: options.sequential,
      latencyConcurrency: 1,
    });
  } finally {
    api.close();
    await runner.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
