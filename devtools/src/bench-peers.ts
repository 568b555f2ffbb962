import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { summarize, type LatencySummary } from '@taskmesh/client';
import { freePort } from '@taskmesh/shared/testing';

/**
 * `npm run bench -- --peers`: the same reverse tasks through two systems people choose instead,
 * in the same run on the same machine. BullMQ on a Redis with its append-only file synced every
 * second (durable, as the journal is), and Moleculer's request-reply over TCP (no persistence).
 * Each side's worker is a process of its own, as taskmesh's are. Both are optional development
 * dependencies, and Redis is Debian's `redis-server`: a peer that is missing is reported skipped.
 */
export interface PeerReport {
  name: string;
  /** Why it did not run, when it did not. */
  skipped?: string;
  batch?: { tasks: number; tasksPerSecond: number };
  latencyMs?: LatencySummary;
}

export interface PeerWorkload {
  tasks: number;
  sequential: number;
  log: (line: string) => void;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const BATCH = 500;
const IN_FLIGHT = 4;
/** BullMQ's worker runs this many jobs at once (its default is one). */
const BULLMQ_CONCURRENCY = 50;
const READY_TIMEOUT_MS = 20_000;

const text = (i: number): string => `bench-${i}`;

/** A child process that prints `ready` once it serves; killed at the end. */
async function startChild(command: string, args: string[], readyPattern: RegExp): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command}: not ready after ${READY_TIMEOUT_MS} ms: ${lines.slice(-3).join(' | ')}`)),
      READY_TIMEOUT_MS,
    );
    const onLine = (line: string): void => {
      lines.push(line);
      if (readyPattern.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}): ${lines.slice(-3).join(' | ')}`));
    });
  });
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Batches of 500, four in flight, until every task has ended; then one at a time. */
async function drive(
  workload: PeerWorkload,
  submitBatch: (from: number, count: number) => Promise<void>,
  untilEnded: (count: number) => Promise<void>,
  one: (i: number) => Promise<void>,
): Promise<Pick<PeerReport, 'batch' | 'latencyMs'>> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < workload.tasks) {
        const from = next;
        next += BATCH;
        await submitBatch(from, Math.min(BATCH, workload.tasks - from));
      }
    }),
  );
  await untilEnded(workload.tasks);
  const seconds = (performance.now() - started) / 1000;
  const samples: number[] = [];
  for (let i = 0; i < workload.sequential; i++) {
    const t0 = performance.now();
    await one(i);
    samples.push(performance.now() - t0);
  }
  return { batch: { tasks: workload.tasks, tasksPerSecond: workload.tasks / seconds }, latencyMs: summarize(samples) };
}

async function bullmq(workload: PeerWorkload): Promise<PeerReport> {
  const name = `BullMQ on Redis (AOF everysec), worker concurrency ${BULLMQ_CONCURRENCY}`;
  let lib: typeof import('bullmq');
  try {
    lib = await import('bullmq');
  } catch {
    return { name, skipped: 'bullmq is not installed (npm install)' };
  }
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-bench-redis-'));
  const port = await freePort();
  let redis: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  try {
    redis = await startChild(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
      /Ready to accept connections/,
    ).catch((err: unknown) => {
      throw Object.assign(new Error(String(err)), { skip: (err as NodeJS.ErrnoException).code === 'ENOENT' });
    });
    worker = await startChild(
      process.execPath,
      [join(HERE, 'bench-peer-bullmq-worker.js'), String(port), String(BULLMQ_CONCURRENCY)],
      /^ready$/,
    );
    const connection = { host: '127.0.0.1', port };
    // The event stream is read from its start and kept long enough: a follower that starts
    // reading after the first jobs ended, or falls behind, still counts every one.
    const queue = new lib.Queue('bench', { connection, streams: { events: { maxLen: 10 * (workload.tasks + workload.sequential) } } });
    const events = new lib.QueueEvents('bench', { connection, lastEventId: '0-0' });
    await events.waitUntilReady();
    let completed = 0;
    const waiters: Array<{ count: number; resolve: () => void }> = [];
    events.on('completed', () => {
      completed++;
      for (const w of waiters.filter((x) => completed >= x.count)) w.resolve();
    });
    try {
      workload.log('bench: peers: BullMQ…');
      const figures = await drive(
        workload,
        async (from, count) => {
          await queue.addBulk(
            Array.from({ length: count }, (_, i) => ({
              name: 'reverse',
              data: { text: text(from + i) },
              opts: { removeOnComplete: true },
            })),
          );
        },
        (count) => (completed >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))),
        async (i) => {
          const job = await queue.add('reverse', { text: text(i) }, { removeOnComplete: 1000 });
          await job.waitUntilFinished(events, 10_000);
        },
      );
      return { name, ...figures };
    } finally {
      await events.close();
      await queue.close();
    }
  } catch (err) {
    if ((err as { skip?: boolean }).skip === true) return { name, skipped: 'redis-server is not installed (apt-get install redis-server)' };
    return { name, skipped: `failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await stopChild(worker);
    await stopChild(redis);
    await rm(dir, { recursive: true, force: true });
  }
}

async function moleculer(workload: PeerWorkload): Promise<PeerReport> {
  const name = 'Moleculer over TCP (no persistence)';
  let lib: typeof import('moleculer');
  try {
    lib = await import('moleculer');
  } catch {
    return { name, skipped: 'moleculer is not installed (npm install)' };
  }
  const [benchPort, workerPort] = [await freePort(), await freePort()];
  let worker: ChildProcess | undefined;
  const broker = new lib.ServiceBroker({
    nodeID: 'bench',
    logger: false,
    transporter: { type: 'TCP', options: { udpDiscovery: false, port: benchPort, urls: [`127.0.0.1:${workerPort}/worker`] } },
  });
  try {
    worker = await startChild(
      process.execPath,
      [join(HERE, 'bench-peer-moleculer-worker.js'), String(workerPort), String(benchPort)],
      /^ready$/,
    );
    await broker.start();
    await broker.waitForServices('reverse', READY_TIMEOUT_MS);
    workload.log('bench: peers: Moleculer…');
    const figures = await drive(
      workload,
      async (from, count) => {
        await Promise.all(Array.from({ length: count }, (_, i) => broker.call('reverse.run', { text: text(from + i) })));
      },
      // Each batch resolves once its calls have answered: nothing is outstanding after the last.
      () => Promise.resolve(),
      async (i) => {
        await broker.call('reverse.run', { text: text(i) });
      },
    );
    return { name, ...figures };
  } catch (err) {
    return { name, skipped: `failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await broker.stop().catch(() => undefined);
    await stopChild(worker);
  }
}

export async function measurePeers(workload: PeerWorkload): Promise<PeerReport[]> {
  return [await bullmq(workload), await moleculer(workload)];
}

/** The peers beside taskmesh's own figures of the same workload. */
export function formatPeers(
  peers: readonly PeerReport[],
  own: { name: string; tasksPerSecond?: number; latencyMs?: LatencySummary },
): string {
  const ms = (v: number): string => `${v.toFixed(2)} ms`;
  const row = (p: {
    name: string;
    tasksPerSecond?: number | undefined;
    latencyMs?: LatencySummary | undefined;
    skipped?: string | undefined;
  }): string =>
    p.skipped !== undefined
      ? `  ${p.name}: skipped, ${p.skipped}`
      : `  ${p.name}: ${p.tasksPerSecond === undefined ? '-' : `${Math.round(p.tasksPerSecond).toLocaleString('en-US')} tasks/s`}, submit-and-wait p50 / p99 ${p.latencyMs === undefined ? '-' : `${ms(p.latencyMs.p50)} / ${ms(p.latencyMs.p99)}`}`;
  return [
    'peers, the same reverse tasks in the same run:',
    row(own),
    ...peers.map((p) => row({ name: p.name, tasksPerSecond: p.batch?.tasksPerSecond, latencyMs: p.latencyMs, skipped: p.skipped })),
  ].join('\n');
}
