import { isFinalStatus } from '@taskmesh/shared';
import type { ApiClient } from '../api-client.js';
import { CPU_SECONDS_METRIC, readMetric } from './metrics-text.js';
import { summarize, type LatencySummary } from './percentiles.js';

export interface LargePhaseOptions {
  api: ApiClient;
  /** A type whose result is as large as its payload (upper: the text upper-cased). */
  type: string;
  /** Tasks run `concurrency` at a time. */
  tasks: number;
  concurrency: number;
  /** Bytes of each payload's text. */
  bytes: number;
  /** Tasks run one at a time first, for the lone-task latency. */
  alone: number;
}

export interface LargePhaseReport {
  tasks: number;
  concurrency: number;
  bytes: number;
  /** One task at a time: submit-and-wait, in milliseconds. */
  aloneMs: LatencySummary;
  /** `concurrency` at a time: submit-and-wait, in milliseconds. */
  latencyMs: LatencySummary;
  /** Payload in and result out, over the concurrent part's wall clock. */
  megabytesPerSecond: number;
  /** The dispatcher's resident memory, highest seen (its own gauge), in bytes; null without one. */
  maxRssBytes: number | null;
  /** The dispatcher's CPU per task in the concurrent part, in milliseconds; null without the counter. */
  dispatcherCpuMsPerTask: number | null;
  succeeded: number;
  failed: number;
}

const RSS_METRIC = 'process_resident_memory_bytes';
const RSS_SAMPLE_MS = 100;
const LARGE_WAIT_MS = 60_000;

/**
 * Large payloads: `alone` tasks of `bytes` one at a time, then `tasks` of them `concurrency` at a
 * time, each submitted with `?wait` and its result (as large) read back in the answer: what a
 * megabyte costs end to end, and how many of them the suite moves per second.
 */
export async function runLargePhase(options: LargePhaseOptions): Promise<LargePhaseReport> {
  const { api, type, tasks, concurrency, bytes } = options;
  const text = 'x'.repeat(Math.max(1, bytes - 8));
  let succeeded = 0;
  let failed = 0;
  const runOne = async (i: number): Promise<number> => {
    const t0 = performance.now();
    try {
      const answer = await api.submitAndWait(
        { type, payload: { text: `${text}${String(i).padStart(8, '0')}`.slice(-bytes) } },
        LARGE_WAIT_MS,
      );
      if (isFinalStatus(answer.status) && answer.status === 'succeeded') succeeded++;
      else failed++;
    } catch {
      failed++;
    }
    return performance.now() - t0;
  };
  // Untimed: the first large task warms the JIT and the sockets.
  await runOne(-1);
  succeeded = 0;
  failed = 0;
  const alone: number[] = [];
  for (let i = 0; i < options.alone; i++) alone.push(await runOne(i));
  let maxRss = await readMetric(api, RSS_METRIC);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rss = await readMetric(api, RSS_METRIC);
      if (rss !== null) maxRss = Math.max(maxRss ?? 0, rss);
      await new Promise((resolve) => setTimeout(resolve, RSS_SAMPLE_MS));
    }
  })();
  const cpuBefore = await readMetric(api, CPU_SECONDS_METRIC);
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, tasks)) }, async () => {
      while (next < tasks) samples.push(await runOne(options.alone + next++));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = await readMetric(api, CPU_SECONDS_METRIC);
  sampling = false;
  await sampler;
  return {
    tasks,
    concurrency,
    bytes,
    aloneMs: summarize(alone),
    latencyMs: summarize(samples),
    megabytesPerSecond: (tasks * bytes * 2) / 1e6 / seconds,
    maxRssBytes: maxRss,
    dispatcherCpuMsPerTask: cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / tasks,
    succeeded,
    failed,
  };
}
