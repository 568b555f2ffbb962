import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  ApiClient,
  benchJson,
  benchWindow,
  defaultBatchWarmup,
  formatBenchReport,
  runBench,
  runLargePhase,
  type BenchPhase,
  type BenchReport,
} from '@taskmesh/client';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { CpuMeter } from './bench-cpu.js';
import { notesOf, renderBenchReport } from './bench-report-file.js';
import { compareFigures, figuresLine, figuresOf, formatChanges, publicFiguresOf, readFigures } from './bench-baseline.js';
import { measurePublicWorkload } from './bench-public.js';
import { waitForLiveWorkers } from './live-workers.js';
import { formatPeers, measurePeers } from './bench-peers.js';
import { measureFloor, type FloorReport } from './bench-floor.js';
import { formatFailover, measureFailover, type FailoverReport } from './bench-failover.js';

/**
 * `npm run bench`: starts a local suite with two reverse workers, runs the client's benchmark
 * against it (batch throughput, then one-at-a-time submit-and-wait latency), prints the table
 * and the JSON report, and stops the suite. Sizes come from flags or TASKMESH_BENCH_* variables.
 */
const HELP = `npm run bench -- [options]
  --tasks <n>                 batch phase tasks (TASKMESH_BENCH_TASKS, default 50000)
  --batch <k>                 tasks per batch request (TASKMESH_BENCH_BATCH, default 500)
  --concurrency <c>           batch requests in flight (TASKMESH_BENCH_CONCURRENCY, default 4)
  --window <w>                most batch tasks outstanding, sent and not yet ended
                              (TASKMESH_BENCH_WINDOW, default batch × concurrency)
  --batch-warmup <n>          untimed batch tasks first (TASKMESH_BENCH_BATCH_WARMUP,
                              default a fifth of --tasks, at most 10000)
  --sequential <n>            latency phase tasks (TASKMESH_BENCH_SEQUENTIAL, default 5000)
  --latency-concurrency <c>   submit-and-wait loops (TASKMESH_BENCH_LATENCY_CONCURRENCY, default 1)
  --workers <n>               reverse workers (TASKMESH_BENCH_WORKERS, default 2)
  --floor <n>                 requests of the host floor measured before the latency phase: the
                              same path with no taskmesh work (TASKMESH_BENCH_FLOOR, default 2000,
                              0 skips it)
  --phase batch|latency|both  (default both)
  --json                      print only the JSON report
  --report <file>             write the figures, the machine and the date to this file
                              (TASKMESH_BENCH_REPORT, default BENCHMARK.md; "-" writes none)
  --journal <policy>          the dispatcher's TASKMESH_JOURNAL_SYNC for the main run
                              (TASKMESH_BENCH_JOURNAL, default process)
  --also <policy>             then the same run again with this policy, reported beside it
                              (TASKMESH_BENCH_ALSO, default machine; "-" skips it)
  --large <n>                 large payloads: n tasks of --large-bytes, --large-concurrency at a
                              time, through an upper worker, after 10 alone (TASKMESH_BENCH_LARGE,
                              default 60, 0 skips it)
  --large-bytes <b>           (TASKMESH_BENCH_LARGE_BYTES, default 1000000)
  --large-concurrency <c>     (TASKMESH_BENCH_LARGE_CONCURRENCY, default 20)
  --public <n>                then npm start's suite as it is (workers.json): n reverse tasks in
                              batches of 500 with no window, then 1000 one at a time
                              (TASKMESH_BENCH_PUBLIC, default 20000, 0 skips it)
  --peers                     then the same reverse workload through BullMQ (Redis, AOF everysec)
                              and Moleculer (TCP), as optional dev dependencies (TASKMESH_BENCH_PEERS=1)
  --baseline <file>           the report of an earlier run to compare with (TASKMESH_BENCH_BASELINE,
                              default BENCHMARK.md; "-" compares with none)
  --guard <factor>            exit 3 if a figure is more than factor times worse than the
                              baseline's, against the host floor (TASKMESH_BENCH_GUARD; CI: 2)
  --failover <n>              then the failover bound: n workers SIGKILLed mid-task under npm start
                              (TASKMESH_BENCH_FAILOVER, default 5, 0 skips it)
TASKMESH_BENCH_NODE_ARGS      node options for every suite process, space-separated, e.g.
                              "--cpu-prof --cpu-prof-dir=/tmp/prof" (written when they stop)`;

/** The public workload's one-at-a-time calls, and its heading in the report. */
const PUBLIC_SEQUENTIAL = 1000;
const PUBLIC_HEADING = "npm start's suite as it is (workers.json: one worker per type), no window, no warm-up";

/** Large tasks run one at a time before the concurrent ones, for the lone-task latency. */
const LARGE_ALONE = 10;

function intFrom(flag: string | undefined, envName: string, fallback: number): number {
  const raw = flag ?? process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(
      `${flag !== undefined ? `--${envName.replace('TASKMESH_BENCH_', '').toLowerCase().replaceAll('_', '-')}` : envName}: "${raw}" is not a whole number`,
    );
  }
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      window: { type: 'string' },
      'batch-warmup': { type: 'string' },
      sequential: { type: 'string' },
      'latency-concurrency': { type: 'string' },
      workers: { type: 'string' },
      floor: { type: 'string' },
      phase: { type: 'string', default: 'both' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      journal: { type: 'string' },
      also: { type: 'string' },
      failover: { type: 'string' },
      large: { type: 'string' },
      baseline: { type: 'string' },
      public: { type: 'string' },
      peers: { type: 'boolean', default: false },
      guard: { type: 'string' },
      'large-bytes': { type: 'string' },
      'large-concurrency': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const tasks = intFrom(values.tasks, 'TASKMESH_BENCH_TASKS', 50_000);
  const batchSize = Math.max(1, intFrom(values.batch, 'TASKMESH_BENCH_BATCH', 500));
  const concurrency = Math.max(1, intFrom(values.concurrency, 'TASKMESH_BENCH_CONCURRENCY', 4));
  const window = intFrom(values.window, 'TASKMESH_BENCH_WINDOW', 0) || undefined;
  const batchWarmup = intFrom(values['batch-warmup'], 'TASKMESH_BENCH_BATCH_WARMUP', defaultBatchWarmup(tasks));
  const sequential = intFrom(values.sequential, 'TASKMESH_BENCH_SEQUENTIAL', 5000);
  const latencyConcurrency = Math.max(1, intFrom(values['latency-concurrency'], 'TASKMESH_BENCH_LATENCY_CONCURRENCY', 1));
  const workerCount = Math.max(1, intFrom(values.workers, 'TASKMESH_BENCH_WORKERS', 2));
  const floorRequests = intFrom(values.floor, 'TASKMESH_BENCH_FLOOR', 2000);
  const kills = intFrom(values.failover, 'TASKMESH_BENCH_FAILOVER', 5);
  const publicTasks = intFrom(values.public, 'TASKMESH_BENCH_PUBLIC', 20_000);
  const large = {
    tasks: intFrom(values.large, 'TASKMESH_BENCH_LARGE', 60),
    bytes: Math.max(1, intFrom(values['large-bytes'], 'TASKMESH_BENCH_LARGE_BYTES', 1_000_000)),
    concurrency: Math.max(1, intFrom(values['large-concurrency'], 'TASKMESH_BENCH_LARGE_CONCURRENCY', 20)),
  };
  if (!['batch', 'latency', 'both'].includes(values.phase)) throw new Error(`--phase: "${values.phase}" is not batch, latency or both`);
  const phases: BenchPhase[] = values.phase === 'both' ? ['batch', 'latency'] : [values.phase as BenchPhase];
  const log = (line: string): void => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  const guardRaw = values.guard ?? process.env.TASKMESH_BENCH_GUARD;
  const guard = guardRaw === undefined || guardRaw === '' ? undefined : Number(guardRaw);
  if (guard !== undefined && !(guard > 1)) throw new Error(`--guard: "${guardRaw}" is not a factor above 1`);
  const baselineFile = values.baseline ?? process.env.TASKMESH_BENCH_BASELINE ?? 'BENCHMARK.md';
  const baseline = baselineFile === '-' ? undefined : readFigures(await readFile(baselineFile, 'utf8').catch(() => ''));

  let hostFloor: FloorReport | undefined;
  if (phases.includes('latency') && floorRequests > 0) {
    log(`bench: the host floor, ${floorRequests} requests over a bare HTTP relay and UDP echo…`);
    hostFloor = await measureFloor({ requests: floorRequests });
  }
  const policies = [
    values.journal ?? process.env.TASKMESH_BENCH_JOURNAL ?? 'process',
    values.also ?? process.env.TASKMESH_BENCH_ALSO ?? 'machine',
  ].filter((p, i, all) => p !== '-' && all.indexOf(p) === i);
  // (The dispatcher checks the policy: an unknown one stops its start, naming the variable.)
  const settings = { workerCount, phases, tasks, batchSize, concurrency, window, batchWarmup, sequential, latencyConcurrency, large, log };
  const runs: MeasuredRun[] = [];
  for (const policy of policies) {
    const run = await measure(policy, settings);
    if (run === undefined) return 130;
    if (hostFloor !== undefined) run.report.hostFloor = hostFloor;
    run.tables = formatBenchReport(run.report);
    if (!values.json)
      process.stdout.write(`journal: ${policy}${runs.length === 0 ? ' (the default)' : ''}\n${run.tables}\n${run.cpuLine}\n`);
    runs.push(run);
  }
  const [main] = runs;
  if (main === undefined) throw new Error('nothing measured');
  let publicRun: { report: BenchReport; tables: string } | undefined;
  if (publicTasks > 0) {
    const report = await measurePublicWorkload({ tasks: publicTasks, sequential: PUBLIC_SEQUENTIAL, log });
    if (hostFloor !== undefined) report.hostFloor = hostFloor;
    publicRun = { report, tables: formatBenchReport(report) };
    if (!values.json) process.stdout.write(`${PUBLIC_HEADING}\n${publicRun.tables}\n`);
  }
  let peersText: string | undefined;
  if (values.peers || process.env.TASKMESH_BENCH_PEERS === '1') {
    const peerTasks = publicTasks > 0 ? publicTasks : tasks;
    const peers = await measurePeers({ tasks: peerTasks, sequential: PUBLIC_SEQUENTIAL, log });
    const own = publicRun ?? main;
    peersText = formatPeers(peers, {
      name: publicRun === undefined ? 'taskmesh (the tuned run above)' : "taskmesh (npm start's suite, above)",
      ...(own.report.batch === undefined ? {} : { tasksPerSecond: own.report.batch.tasksPerSecond }),
      ...(own.report.latency === undefined ? {} : { latencyMs: own.report.latency.latencyMs }),
    });
    if (!values.json) process.stdout.write(`${peersText}\n`);
  }
  const figures = { ...figuresOf(main.report), ...(publicRun === undefined ? {} : publicFiguresOf(publicRun.report)) };
  const changes = baseline === undefined ? [] : compareFigures(baseline, figures);
  if (!values.json)
    process.stdout.write(
      `${baseline === undefined ? `no earlier figures in ${baselineFile} to compare with` : formatChanges(changes, guard)}\n`,
    );
  const collapsed = guard === undefined ? [] : changes.filter((c) => c.worseBy > guard);
  let failover: FailoverReport | undefined;
  if (kills > 0) {
    log(`bench: the failover bound, ${kills} workers killed mid-task under npm start…`);
    failover = await measureFailover({ kills, log });
    if (!values.json) process.stdout.write(`${formatFailover(failover)}\n`);
  }
  const reportFile = values.report ?? process.env.TASKMESH_BENCH_REPORT ?? 'BENCHMARK.md';
  if (reportFile !== '-') {
    const notes = notesOf(await readFile(reportFile, 'utf8').catch(() => ''));
    await writeFile(
      reportFile,
      renderBenchReport({
        sections: runs
          .map((r, i) => ({
            heading: `journal: ${r.policy}${i === 0 ? ' (the default)' : ''}`,
            tables: r.tables,
            cpu: r.cpuLine,
          }))
          .concat(publicRun === undefined ? [] : [{ heading: PUBLIC_HEADING, tables: publicRun.tables, cpu: '' }]),
        ...(failover === undefined ? {} : { failover: formatFailover(failover) }),
        settings: process.argv.slice(2).join(' ') || 'the defaults',
        figures: figuresLine(figures),
        ...(notes === undefined ? {} : { notes }),
        at: new Date(),
      }),
    );
    log(`bench: report written to ${reportFile}`);
  }
  const json = (r: MeasuredRun): Record<string, unknown> => ({
    journal: r.policy,
    ...(JSON.parse(benchJson(r.report)) as object),
    wallSeconds: r.wallSeconds,
    cpu: r.cpu,
  });
  const publicJson = publicRun === undefined ? undefined : (JSON.parse(benchJson(publicRun.report)) as object);
  process.stdout.write(`${JSON.stringify({ ...json(main), also: runs.slice(1).map(json), public: publicJson, failover, changes })}\n`);
  if (!runs.every((r) => r.report.failures === 0) || (publicRun?.report.failures ?? 0) > 0) return 1;
  if (collapsed.length > 0) {
    process.stderr.write(
      `bench: collapsed against ${baselineFile}: ${collapsed.map((c) => `${c.name} ${c.worseBy.toFixed(1)}× worse`).join(', ')}\n`,
    );
    return 3;
  }
  return 0;
}

interface MeasuredRun {
  policy: string;
  report: BenchReport;
  tables: string;
  cpu: Awaited<ReturnType<CpuMeter['stop']>>;
  cpuLine: string;
  wallSeconds: number;
}

/** One run of the bench against a fresh local suite whose dispatcher journals with `policy`; undefined when interrupted. */
async function measure(
  policy: string,
  o: {
    workerCount: number;
    phases: BenchPhase[];
    tasks: number;
    batchSize: number;
    concurrency: number;
    window: number | undefined;
    batchWarmup: number;
    sequential: number;
    latencyConcurrency: number;
    large: { tasks: number; bytes: number; concurrency: number };
    log: (line: string) => void;
  },
): Promise<MeasuredRun | undefined> {
  const { workerCount, phases, tasks, batchSize, concurrency, window, batchWarmup, sequential, latencyConcurrency, large, log } = o;
  log(`bench: starting a local suite with ${workerCount} reverse workers${large.tasks > 0 ? ' and an upper one' : ''}, journal ${policy}…`);
  const workerTypes = [...Array.from({ length: workerCount }, () => 'reverse'), ...(large.tasks > 0 ? ['upper'] : [])];
  const suite: LocalSuite = await startLocalSuite({
    workers: workerTypes,
    // Only warnings and errors: the ready line the harness waits for is announced at any level.
    env: { TASKMESH_LOG_LEVEL: 'warn' },
    dispatcherEnv: { TASKMESH_JOURNAL_SYNC: policy },
    nodeArgs: (process.env.TASKMESH_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  });
  let stopping: Promise<void> | undefined;
  let interrupted = false;
  const stop = (): Promise<void> => (stopping ??= suite.stop());
  const onSignal = (): void => {
    interrupted = true;
    void stop().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const api = new ApiClient({
    baseUrl: suite.dispatcherUrl!,
    maxSockets: Math.max(concurrency, latencyConcurrency, large.concurrency) + 2,
    backend: 'undici',
  });
  try {
    await waitForLiveWorkers(api, 'reverse', workerCount);
    if (large.tasks > 0) await waitForLiveWorkers(api, 'upper', 1);
    const meter = new CpuMeter([
      { name: 'dispatcher', pid: suite.dispatcher!.pid },
      ...suite.workers.map((w, i) => ({ name: `worker ${i + 1} (${workerTypes[i] ?? '?'})`, pid: w.pid })),
      { name: 'bench client', pid: process.pid },
    ]);
    const plan = [
      phases.includes('batch')
        ? `${tasks} tasks in batches of ${batchSize} (${concurrency} in flight, at most ${benchWindow({ batchSize, concurrency, window })} outstanding, after ${batchWarmup} untimed)`
        : '',
      phases.includes('latency') ? `${sequential} one at a time (${latencyConcurrency} loop${latencyConcurrency === 1 ? '' : 's'})` : '',
      large.tasks > 0 ? `${large.tasks} large tasks of ${large.bytes} bytes, ${large.concurrency} at a time` : '',
    ];
    log(`bench: ${plan.filter(Boolean).join(', then ')}`);
    await meter.start();
    const started = performance.now();
    const report: BenchReport = await runBench({
      api,
      type: 'reverse',
      phases,
      tasks,
      batchSize,
      concurrency,
      window,
      batchWarmup,
      sequential,
      latencyConcurrency,
    });
    if (large.tasks > 0) {
      report.large = await runLargePhase({
        api,
        type: 'upper',
        tasks: large.tasks,
        concurrency: large.concurrency,
        bytes: large.bytes,
        alone: LARGE_ALONE,
      });
      report.failures += report.large.failed;
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const cpu = await meter.stop();
    const share = cpu.map((c) => `${c.name} ${c.cpuSeconds === null ? 'n/a' : `${c.cpuSeconds.toFixed(2)} s`}`).join(', ');
    const cpuLine = `CPU time over ${wallSeconds.toFixed(1)} s of wall clock: ${share}`;
    return interrupted ? undefined : { policy, report, tables: '', cpu, cpuLine, wallSeconds };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    api.close();
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
