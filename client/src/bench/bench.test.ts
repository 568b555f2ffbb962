import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATAGRAMS_RECEIVED_PATTERN,
  DATAGRAMS_SENT_PATTERN,
  parsePrometheusText,
  sumMatching,
  RETRANSMISSION_PATTERN,
} from './metrics-text.js';
import { percentile, summarize } from './percentiles.js';
import { benchJson, checkTargets, formatBenchReport } from './report.js';
import { benchWindow, defaultBatchWarmup, type BenchReport } from './run-bench.js';

test('percentiles are nearest-rank over the sorted samples', () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
  const s = summarize(samples);
  assert.equal(s.count, 100);
  assert.equal(s.p50, 50);
  assert.equal(s.p90, 90);
  assert.equal(s.p99, 99);
  assert.equal(s.max, 100);
  assert.equal(s.mean, 50.5);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(summarize([]).p50));
});

test('retransmission counters are summed from Prometheus text across labels', () => {
  const text = [
    '# HELP taskmesh_datagrams_retransmitted_total Datagrams sent again',
    '# TYPE taskmesh_datagrams_retransmitted_total counter',
    'taskmesh_datagrams_retransmitted_total{kind="task"} 7',
    'taskmesh_datagrams_retransmitted_total{kind="cancel"} 2',
    'taskmesh_datagrams_retransmitted_created 1700000000',
    'taskmesh_tasks_total{status="succeeded"} 100',
    'garbage line',
  ].join('\n');
  const samples = parsePrometheusText(text);
  assert.equal(samples.get('taskmesh_tasks_total{status="succeeded"}'), 100);
  assert.equal(sumMatching(samples, RETRANSMISSION_PATTERN), 9);
  const datagrams = parsePrometheusText('taskmesh_dispatcher_datagrams_sent_total 12\ntaskmesh_dispatcher_datagrams_received_total 5\n');
  assert.equal(sumMatching(datagrams, DATAGRAMS_SENT_PATTERN), 12);
  assert.equal(sumMatching(datagrams, DATAGRAMS_RECEIVED_PATTERN), 5);
});

const report: BenchReport = {
  dispatcher: 'http://127.0.0.1:1',
  type: 'reverse',
  batch: {
    tasks: 1000,
    batchSize: 500,
    concurrency: 4,
    window: 2000,
    warmup: 200,
    submitSeconds: 0.02,
    totalSeconds: 0.04,
    submittedPerSecond: 50_000,
    tasksPerSecond: 25_000,
    succeeded: 1000,
    failed: 0,
    throttled: 2,
    dispatcherCpuMicrosPerTask: 41,
  },
  latency: {
    tasks: 100,
    concurrency: 1,
    latencyMs: { count: 100, mean: 0.8, p50: 0.7, p90: 1.2, p99: 6, max: 9 },
    serverMs: { count: 100, mean: 0.5, p50: 0, p90: 1, p99: 1, max: 3 },
    httpBaselineMs: { count: 100, mean: 0.2, p50: 0.2, p90: 0.3, p99: 0.4, max: 1 },
    tasksPerSecond: 1200,
    succeeded: 100,
    failed: 0,
  },
  large: {
    tasks: 60,
    concurrency: 20,
    bytes: 1_000_000,
    aloneMs: { count: 10, mean: 26, p50: 25, p90: 28, p99: 31, max: 31 },
    latencyMs: { count: 60, mean: 800, p50: 790, p90: 950, p99: 1100, max: 1100 },
    megabytesPerSecond: 42.5,
    maxRssBytes: 300 * 2 ** 20,
    dispatcherCpuMsPerTask: 12.5,
    succeeded: 70,
    failed: 0,
  },
  retransmissions: 3,
  datagrams: { sent: 330, received: 220 },
  failures: 0,
};

test('targets are checked against the measured figures', () => {
  const checks = checkTargets(report);
  assert.deepEqual(
    checks.map((c) => [c.name, c.met]),
    [
      ['batch throughput', true],
      ['dispatcher CPU per task', true],
      ['submit-and-wait p50', true],
      ['submit-and-wait p99', false],
      ['large payloads', false],
      ['large payload p50', true],
      ['one large task alone p50', true],
      ['failed tasks', true],
    ],
  );
  const text = formatBenchReport(report);
  assert.match(text, /throughput.*25,000 tasks\/s/);
  assert.match(text, /batches of 500, 4 in flight, at most 2000 outstanding, after 200 untimed/);
  assert.match(text, /submit-and-wait p99.*6 ms.*≤ 4 ms.*✗/);
  assert.match(text, /dispatcher CPU per task.*41 µs.*≤ 60 µs.*✓/);
  assert.match(text, /large payloads.*42\.5 MB\/s.*≥ 50 MB\/s.*✗/);
  assert.match(text, /dispatcher RSS, highest.*300 MiB/);
  assert.match(text, /retransmissions.*3/);
  assert.match(text, /datagrams sent \/ received.*330 \/ 220 \(0\.47 per task\)/);
  const json = JSON.parse(benchJson(report)) as { targets: unknown[]; batch: { tasksPerSecond: number } };
  assert.equal(json.targets.length, 8);
  assert.equal(json.batch.tasksPerSecond, 25_000);
  assert.doesNotMatch(text, /host floor/, 'no floor row unless one was measured');
});

test('a measured host floor is shown beside the latency figures and kept in the JSON', () => {
  const withFloor: BenchReport = {
    ...report,
    hostFloor: { requests: 50, latencyMs: { count: 50, mean: 0.3, p50: 0.25, p90: 0.4, p99: 2.5, max: 3 } },
  };
  assert.match(formatBenchReport(withFloor), /host floor p50 \/ p99.*250 µs \/ 2\.5 ms \(same path, no taskmesh work\)/);
  const json = JSON.parse(benchJson(withFloor)) as { hostFloor: { requests: number; latencyMs: { p99: number } } };
  assert.equal(json.hostFloor.requests, 50);
  assert.equal(json.hostFloor.latencyMs.p99, 2.5);
});

test('the batch warm-up is a fifth of the tasks, at most 10,000', () => {
  assert.equal(defaultBatchWarmup(50_000), 10_000);
  assert.equal(defaultBatchWarmup(1200), 240);
  assert.equal(defaultBatchWarmup(3), 0);
});

test('the batch window defaults to one batch per request in flight and is never below one batch', () => {
  assert.equal(benchWindow({ batchSize: 500, concurrency: 4 }), 2000);
  assert.equal(benchWindow({ batchSize: 500, concurrency: 4, window: 10_000 }), 10_000);
  assert.equal(benchWindow({ batchSize: 500, concurrency: 4, window: 10 }), 500);
});
