import { isFinalStatus, type SubmitTaskRequest } from '@taskmesh/shared';
import type { ApiClient } from '../api-client.js';
import { submitBatchWithBackpressure } from '../backpressure.js';
import { chunk, mapConcurrent } from '../batch-file.js';
import { CompletionTracker } from '../task-waiter.js';
import {
  DATAGRAMS_RECEIVED_PATTERN,
  CPU_SECONDS_METRIC,
  DATAGRAMS_SENT_PATTERN,
  parsePrometheusText,
  readMetric,
  RETRANSMISSION_PATTERN,
  sumMatching,
} from './metrics-text.js';
import { summarize, type LatencySummary } from './percentiles.js';
import type { LargePhaseReport } from './large-phase.js';

export type BenchPhase = 'batch' | 'latency';

export interface BenchOptions {
  api: ApiClient;
  /** Task type to run; its workers must be up. */
  type: string;
  /** Payload of task i; defaults to `{ text: 'bench-<i>' }`. */
  payload?: (i: number) => unknown;
  phases: readonly BenchPhase[];
  /** Batch phase: tasks submitted in total. */
  tasks: number;
  /** Batch phase: tasks per batch request. */
  batchSize: number;
  /** Batch phase: batch requests in flight at once. */
  concurrency: number;
  /**
   * Batch phase: most tasks outstanding (being submitted or submitted, not yet ended); defaults
   * to batchSize × concurrency. A batch waits to be sent until enough earlier tasks have ended, so
   * tasks spend milliseconds in the dispatcher's pending queue instead of filling it (and being
   * refused with QUEUE_FULL, every refusal a batch parsed for nothing).
   */
  window?: number;
  /** Batch phase: untimed tasks first, the same way; defaults to a fifth of `tasks`, at most 10,000. */
  batchWarmup?: number;
  /** Latency phase: concurrent submit-and-wait loops; defaults to 1 (one task at a time). */
  latencyConcurrency?: number;
  /** Latency phase: tasks submitted one at a time. */
  sequential: number;
  /** Latency phase: untimed tasks first, so JIT and sockets are warm. */
  warmup?: number;
  /** Give up on a phase after this long. */
  phaseTimeoutMs?: number;
  /** Called as a phase advances: done of total. */
  onProgress?: (phase: BenchPhase, done: number, total: number) => void;
}

export interface BatchPhaseReport {
  tasks: number;
  batchSize: number;
  concurrency: number;
  /** Most tasks outstanding at once. */
  window: number;
  /** Untimed tasks run first, the same way. */
  warmup: number;
  /** From the first request to the last batch accepted. */
  submitSeconds: number;
  /** From the first request to the last task ended. */
  totalSeconds: number;
  submittedPerSecond: number;
  /** Ended tasks per second over the whole phase: the throughput figure. */
  tasksPerSecond: number;
  succeeded: number;
  failed: number;
  /** Batch requests refused with QUEUE_FULL and sent again. */
  throttled: number;
  /**
   * The dispatcher's CPU time (its own `process_cpu_seconds_total`) over the timed tasks, per
   * task, in microseconds; null when it exposes no such counter.
   */
  dispatcherCpuMicrosPerTask: number | null;
}

export interface LatencyPhaseReport {
  tasks: number;
  concurrency: number;
  /** Submit-and-wait round trips, in milliseconds. */
  latencyMs: LatencySummary;
  /** The dispatcher's own view of the same tasks: createdAt → finishedAt (millisecond clock). */
  serverMs: LatencySummary;
  /** An HTTP round trip that dispatches nothing (GET of a finished task), for the share of HTTP and the client. */
  httpBaselineMs: LatencySummary;
  tasksPerSecond: number;
  succeeded: number;
  failed: number;
}

export interface BenchReport {
  dispatcher: string;
  type: string;
  batch?: BatchPhaseReport;
  latency?: LatencyPhaseReport;
  /** Large payloads (see runLargePhase), when that phase ran. */
  large?: LargePhaseReport;
  /** Datagrams the dispatcher retransmitted during the run; null when it exposes no such counter. */
  retransmissions: number | null;
  /** Datagrams the dispatcher sent and received during the run; null without such counters. */
  datagrams: { sent: number; received: number } | null;
  /** Tasks that did not succeed, over all phases. */
  failures: number;
  /**
   * The same path with no taskmesh work on it (a bare HTTP relay and UDP echo on the suite's host),
   * one request at a time: what the machine itself costs. Measured by `npm run bench`, which starts
   * the suite; absent when the bench runs against a dispatcher elsewhere.
   */
  hostFloor?: { requests: number; latencyMs: LatencySummary };
}

/** Holds the long-poll this long per task; a slower task counts as a failure of the latency phase. */
const LATENCY_WAIT_MS = 10_000;

const defaultPayload = (i: number): unknown => ({ text: `bench-${i}` });

interface DispatcherCounters {
  retransmissions: number | null;
  datagramsSent: number | null;
  datagramsReceived: number | null;
}

/** The dispatcher's datagram counters from /metrics; null for any it does not expose. */
async function dispatcherCounters(api: ApiClient): Promise<DispatcherCounters> {
  const none: DispatcherCounters = { retransmissions: null, datagramsSent: null, datagramsReceived: null };
  try {
    const samples = parsePrometheusText(await api.metricsText());
    const names = [...samples.keys()];
    const read = (pattern: RegExp): number | null => (names.some((k) => pattern.test(k)) ? sumMatching(samples, pattern) : null);
    return {
      retransmissions: read(RETRANSMISSION_PATTERN),
      datagramsSent: read(DATAGRAMS_SENT_PATTERN),
      datagramsReceived: read(DATAGRAMS_RECEIVED_PATTERN),
    };
  } catch {
    return none;
  }
}

const diff = (before: number | null, after: number | null): number | null => (before === null || after === null ? null : after - before);

/** Untimed batch tasks before the timed ones: a fifth of them, at most 10,000. */
export const defaultBatchWarmup = (tasks: number): number => Math.min(10_000, Math.floor(tasks / 5));

/** The batch phase's window: at least one batch, by default one batch per request in flight. */
export const benchWindow = (o: Pick<BenchOptions, 'window' | 'batchSize' | 'concurrency'>): number =>
  Math.max(o.batchSize, o.window ?? o.batchSize * o.concurrency);

/**
 * Batch throughput: N tasks in batches of K, C requests in flight, at most W tasks outstanding;
 * the clock stops when the event stream has reported every task ended.
 */
export async function runBatchPhase(options: BenchOptions): Promise<BatchPhaseReport> {
  const { api, tasks, batchSize, concurrency } = options;
  const payload = options.payload ?? defaultPayload;
  const warmup = options.batchWarmup ?? defaultBatchWarmup(tasks);
  const window = benchWindow(options);
  const tracker = new CompletionTracker(api, options.type);
  await tracker.start();
  let reserved = 0;
  let throttled = 0;
  /** Submits `count` tasks (payloads from index `from`) within the window; resolves with their ids once all are accepted. */
  const submitAll = async (from: number, count: number, onAccepted: () => void): Promise<string[]> => {
    const requests: SubmitTaskRequest[] = Array.from({ length: count }, (_, i) => ({ type: options.type, payload: payload(from + i) }));
    const batches = await mapConcurrent(chunk(requests, batchSize), concurrency, async (batch) => {
      // Keep at most `window` tasks outstanding (sent, not yet ended): tasks then wait in the
      // dispatcher briefly instead of filling its pending queue and being refused.
      reserved += batch.length;
      await tracker.untilEnded(reserved - window);
      const got = await submitBatchWithBackpressure(api, batch, { onThrottled: () => throttled++ });
      onAccepted();
      return got;
    });
    return batches.flat();
  };
  try {
    if (warmup > 0) {
      // Untimed, the same way: the JIT has compiled the hot paths and sockets are open when the clock starts.
      const warm = await submitAll(tasks, warmup, () => undefined);
      await tracker.waitFor(warm, { timeoutMs: options.phaseTimeoutMs });
      throttled = 0;
    }
    const cpuBefore = await readMetric(api, CPU_SECONDS_METRIC);
    const started = performance.now();
    const ids = await submitAll(0, tasks, () => options.onProgress?.('batch', 0, tasks));
    const submitSeconds = (performance.now() - started) / 1000;
    const finals = await tracker.waitFor(ids, {
      timeoutMs: options.phaseTimeoutMs,
      onProgress: (done) => options.onProgress?.('batch', done, tasks),
    });
    const totalSeconds = (performance.now() - started) / 1000;
    const cpuAfter = await readMetric(api, CPU_SECONDS_METRIC);
    let succeeded = 0;
    for (const s of finals.values()) if (s === 'succeeded') succeeded++;
    return {
      tasks: ids.length,
      batchSize,
      concurrency,
      window,
      warmup,
      submitSeconds,
      totalSeconds,
      submittedPerSecond: ids.length / submitSeconds,
      tasksPerSecond: ids.length / totalSeconds,
      succeeded,
      failed: ids.length - succeeded,
      throttled,
      dispatcherCpuMicrosPerTask:
        cpuBefore === null || cpuAfter === null || ids.length === 0 ? null : ((cpuAfter - cpuBefore) * 1e6) / ids.length,
    };
  } finally {
    await tracker.close();
  }
}

/** One-at-a-time latency: C loops, each submitting with `?wait` and timing the round trip. */
export async function runLatencyPhase(options: BenchOptions): Promise<LatencyPhaseReport> {
  const { api, sequential } = options;
  const concurrency = options.latencyConcurrency ?? 1;
  const payload = options.payload ?? defaultPayload;
  interface Sample {
    ms: number;
    ok: boolean;
    serverMs?: number;
  }
  const runOne = async (i: number): Promise<Sample> => {
    const t0 = process.hrtime.bigint();
    let ok: boolean;
    let serverMs: number | undefined;
    try {
      const answer = await api.submitAndWait({ type: options.type, payload: payload(i) }, LATENCY_WAIT_MS);
      ok = isFinalStatus(answer.status) && answer.status === 'succeeded';
      if ('finishedAt' in answer && answer.finishedAt !== null) serverMs = answer.finishedAt - answer.createdAt;
    } catch {
      // A refused submission counts as a failed task; the run goes on.
      ok = false;
    }
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok, serverMs };
  };
  const warmup = options.warmup ?? Math.min(500, Math.ceil(sequential / 10));
  let next = 0;
  const loops = async (count: number, record: (r: Sample) => void): Promise<void> => {
    next = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, async () => {
        while (next < count) {
          const i = next++;
          record(await runOne(i));
        }
      }),
    );
  };
  await loops(warmup, () => undefined);
  // The cheapest real round trip: reading back one finished task, no dispatch involved.
  const known = await api.submitAndWait({ type: options.type, payload: payload(0) }, LATENCY_WAIT_MS).catch(() => undefined);
  const baseline: number[] = [];
  for (let i = 0; known !== undefined && i < Math.min(1000, sequential); i++) {
    const t0 = process.hrtime.bigint();
    await api.getTask(known.id).catch(() => undefined);
    baseline.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const samples: number[] = [];
  const serverSamples: number[] = [];
  let succeeded = 0;
  const deadline = options.phaseTimeoutMs === undefined ? Infinity : performance.now() + options.phaseTimeoutMs;
  const started = performance.now();
  await loops(sequential, (r) => {
    samples.push(r.ms);
    if (r.serverMs !== undefined) serverSamples.push(r.serverMs);
    if (r.ok) succeeded++;
    if (samples.length % 100 === 0) options.onProgress?.('latency', samples.length, sequential);
    if (performance.now() > deadline) next = sequential;
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    tasks: samples.length,
    concurrency,
    latencyMs: summarize(samples),
    serverMs: summarize(serverSamples),
    httpBaselineMs: summarize(baseline),
    tasksPerSecond: samples.length / seconds,
    succeeded,
    failed: samples.length - succeeded,
  };
}

/** Runs the chosen phases in order and reads the dispatcher's datagram counters around them. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const before = await dispatcherCounters(options.api);
  const report: BenchReport = { dispatcher: options.api.baseUrl, type: options.type, retransmissions: null, datagrams: null, failures: 0 };
  if (options.phases.includes('batch') && options.tasks > 0) report.batch = await runBatchPhase(options);
  if (options.phases.includes('latency') && options.sequential > 0) report.latency = await runLatencyPhase(options);
  const after = await dispatcherCounters(options.api);
  report.retransmissions = diff(before.retransmissions, after.retransmissions);
  const sent = diff(before.datagramsSent, after.datagramsSent);
  const received = diff(before.datagramsReceived, after.datagramsReceived);
  report.datagrams = sent === null || received === null ? null : { sent, received };
  report.failures = (report.batch?.failed ?? 0) + (report.latency?.failed ?? 0);
  return report;
}
