import Table from 'cli-table3';
import { formatDuration } from '../format.js';
import type { BenchReport } from './run-bench.js';

/** The figures the suite aims for on a 2-core machine. */
export const BENCH_TARGETS = {
  batchTasksPerSecond: 25_000,
  /** The dispatcher's CPU time per task in the batch phase. */
  cpuMicrosPerTask: 60,
  p50Ms: 1,
  p99Ms: 4,
  failures: 0,
  /** Large payloads: payload in and result out per second, 20 tasks of 1 MB at a time. */
  largeMegabytesPerSecond: 50,
  largeP50Ms: 1000,
  /** One 1 MB task alone, submit-and-wait. */
  largeAloneMs: 30,
} as const;

export interface TargetCheck {
  name: string;
  measured: string;
  target: string;
  met: boolean;
}

/** Each target beside the measured figure; phases that did not run are left out. */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (report.batch) {
    checks.push({
      name: 'batch throughput',
      measured: `${Math.round(report.batch.tasksPerSecond).toLocaleString('en-US')} tasks/s`,
      target: `≥ ${BENCH_TARGETS.batchTasksPerSecond.toLocaleString('en-US')} tasks/s`,
      met: report.batch.tasksPerSecond >= BENCH_TARGETS.batchTasksPerSecond,
    });
    const cpu = report.batch.dispatcherCpuMicrosPerTask;
    if (cpu !== null)
      checks.push({
        name: 'dispatcher CPU per task',
        measured: `${Math.round(cpu)} µs`,
        target: `≤ ${BENCH_TARGETS.cpuMicrosPerTask} µs`,
        met: cpu <= BENCH_TARGETS.cpuMicrosPerTask,
      });
  }
  if (report.latency) {
    const { p50, p99 } = report.latency.latencyMs;
    checks.push({
      name: 'submit-and-wait p50',
      measured: formatDuration(p50),
      target: `≤ ${BENCH_TARGETS.p50Ms} ms`,
      met: p50 <= BENCH_TARGETS.p50Ms,
    });
    checks.push({
      name: 'submit-and-wait p99',
      measured: formatDuration(p99),
      target: `≤ ${BENCH_TARGETS.p99Ms} ms`,
      met: p99 <= BENCH_TARGETS.p99Ms,
    });
  }
  if (report.large) {
    const l = report.large;
    checks.push(
      {
        name: 'large payloads',
        measured: `${l.megabytesPerSecond.toFixed(1)} MB/s`,
        target: `≥ ${BENCH_TARGETS.largeMegabytesPerSecond} MB/s`,
        met: l.megabytesPerSecond >= BENCH_TARGETS.largeMegabytesPerSecond,
      },
      {
        name: 'large payload p50',
        measured: formatDuration(l.latencyMs.p50),
        target: `≤ ${formatDuration(BENCH_TARGETS.largeP50Ms)}`,
        met: l.latencyMs.p50 <= BENCH_TARGETS.largeP50Ms,
      },
      {
        name: 'one large task alone p50',
        measured: formatDuration(l.aloneMs.p50),
        target: `≤ ${formatDuration(BENCH_TARGETS.largeAloneMs)}`,
        met: l.aloneMs.p50 <= BENCH_TARGETS.largeAloneMs,
      },
    );
  }
  checks.push({
    name: 'failed tasks',
    measured: String(report.failures),
    target: String(BENCH_TARGETS.failures),
    met: report.failures <= BENCH_TARGETS.failures,
  });
  return checks;
}

/** The human-readable report: the run's figures, then the targets with ✓/✗. */
export function formatBenchReport(report: BenchReport): string {
  const style = { head: [], border: [], compact: true };
  const figures = new Table({ head: ['phase', 'figure', 'value'], style });
  if (report.batch) {
    const b = report.batch;
    figures.push(
      [
        'batch',
        'tasks',
        `${b.tasks} (batches of ${b.batchSize}, ${b.concurrency} in flight, at most ${b.window} outstanding, after ${b.warmup} untimed)`,
      ],
      [
        'batch',
        'submitted in',
        `${formatDuration(b.submitSeconds * 1000)} (${Math.round(b.submittedPerSecond).toLocaleString('en-US')} tasks/s)`,
      ],
      ['batch', 'queue-full retries', String(b.throttled)],
      ['batch', 'all ended in', formatDuration(b.totalSeconds * 1000)],
      ['batch', 'throughput', `${Math.round(b.tasksPerSecond).toLocaleString('en-US')} tasks/s`],
      ['batch', 'succeeded / failed', `${b.succeeded} / ${b.failed}`],
      [
        'batch',
        'dispatcher CPU per task',
        b.dispatcherCpuMicrosPerTask === null
          ? 'n/a (no process_cpu_seconds_total at /metrics)'
          : `${Math.round(b.dispatcherCpuMicrosPerTask)} µs`,
      ],
    );
  }
  if (report.latency) {
    const l = report.latency;
    const ms = l.latencyMs;
    figures.push(
      ['latency', 'tasks', `${l.tasks} (${l.concurrency} loop${l.concurrency === 1 ? '' : 's'})`],
      ['latency', 'p50 / p90 / p99', `${formatDuration(ms.p50)} / ${formatDuration(ms.p90)} / ${formatDuration(ms.p99)}`],
      ['latency', 'mean / max', `${formatDuration(ms.mean)} / ${formatDuration(ms.max)}`],
      ['latency', 'dispatcher-side p50 / p99', `${formatDuration(l.serverMs.p50)} / ${formatDuration(l.serverMs.p99)} (ms clock)`],
      ['latency', 'GET /v1/tasks/:id p50 / p99', `${formatDuration(l.httpBaselineMs.p50)} / ${formatDuration(l.httpBaselineMs.p99)}`],
      ['latency', 'throughput', `${Math.round(l.tasksPerSecond).toLocaleString('en-US')} tasks/s`],
      ...(report.hostFloor === undefined
        ? []
        : [
            [
              'latency',
              'host floor p50 / p99',
              `${formatDuration(report.hostFloor.latencyMs.p50)} / ${formatDuration(report.hostFloor.latencyMs.p99)} (same path, no taskmesh work)`,
            ],
          ]),
      ['latency', 'succeeded / failed', `${l.succeeded} / ${l.failed}`],
    );
  }
  if (report.large) {
    const l = report.large;
    const mb = (l.bytes / 1e6).toFixed(l.bytes >= 1e6 ? 0 : 2);
    figures.push(
      ['large', 'tasks', `${l.tasks} of ${mb} MB (${l.concurrency} at a time, after ${l.aloneMs.count} alone)`],
      ['large', 'one alone p50 / p99', `${formatDuration(l.aloneMs.p50)} / ${formatDuration(l.aloneMs.p99)}`],
      ['large', 'payload in and out', `${l.megabytesPerSecond.toFixed(1)} MB/s`],
      ['large', 'p50 / p99', `${formatDuration(l.latencyMs.p50)} / ${formatDuration(l.latencyMs.p99)}`],
      ['large', 'dispatcher CPU per task', l.dispatcherCpuMsPerTask === null ? 'n/a' : formatDuration(l.dispatcherCpuMsPerTask)],
      ['large', 'dispatcher RSS, highest', l.maxRssBytes === null ? 'n/a' : `${Math.round(l.maxRssBytes / 2 ** 20)} MiB`],
      ['large', 'succeeded / failed (alone ones too)', `${l.succeeded} / ${l.failed}`],
    );
  }
  figures.push([
    'all',
    'retransmissions',
    report.retransmissions === null ? 'n/a (no counter at /metrics)' : String(report.retransmissions),
  ]);
  if (report.datagrams !== null) {
    const tasks = (report.batch?.tasks ?? 0) + (report.latency?.tasks ?? 0) + (report.large?.tasks ?? 0);
    const perTask = tasks > 0 ? ` (${((report.datagrams.sent + report.datagrams.received) / tasks).toFixed(2)} per task)` : '';
    figures.push(['all', 'dispatcher datagrams sent / received', `${report.datagrams.sent} / ${report.datagrams.received}${perTask}`]);
  }
  figures.push(['all', 'failed tasks', String(report.failures)]);
  const targets = new Table({ head: ['target', 'measured', 'goal', ''], style });
  for (const c of checkTargets(report)) targets.push([c.name, c.measured, c.target, c.met ? '✓' : '✗']);
  return `${figures.toString()}\n${targets.toString()}`;
}

/** The JSON form: the report plus the target checks. */
export function benchJson(report: BenchReport): string {
  return JSON.stringify({ ...report, targets: checkTargets(report) });
}
