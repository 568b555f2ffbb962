import { hostname } from 'node:os';
import {
  TaskServer,
  describeContract,
  UdpEndpoint,
  type EndpointStats,
  type LoadReport,
  type Logger,
  type TaskServerStats,
  type WorkerRecord,
  openSpanExport,
} from '@taskmesh/shared';
import type { WorkerSettings } from './config.js';
import { HeartbeatThread } from './heartbeat-thread.js';
import { LoadCell } from './load-cell.js';
import { startLoopMonitor } from './loop-monitor.js';
import { TaskQueue } from './task-queue.js';
import type { TaskTypeModule } from './task-types/task-type.js';

/** Dropped datagrams (bad HMAC, replays...) are reported this promptly, at most once per interval. */
export const DROP_REPORT_INTERVAL_MS = 1000;
/** A summary of the counters is logged this often when something changed. */
export const STATS_LOG_INTERVAL_MS = 30_000;

export interface WorkerServiceOptions {
  type: TaskTypeModule;
  settings: WorkerSettings;
  /** The keys the worker holds (derived from TASKMESH_SECRET, never the secret itself). */
  keys: { frame: Buffer; nameservice: Buffer };
  logger: Logger;
  /** Log format of the heartbeat thread, the same as the main logger's. */
  jsonLogs: boolean;
  /** The heartbeat thread died: the worker can no longer keep its lease. */
  onFatal?: (err: Error) => void;
}

export interface WorkerStats {
  load: LoadReport;
  tasks: TaskServerStats;
  udp: EndpointStats;
  maxLoopBlockedMs: number;
}

export interface WorkerService {
  readonly name: string;
  readonly type: string;
  /** The bound UDP port. */
  readonly udpPort: number;
  /** The UDP endpoint's id, registered at the nameservice: frames must be signed for it. */
  readonly endpointId: string;
  /** Resolves with the nameservice's record once registered (advertised host included). */
  readonly registered: Promise<WorkerRecord>;
  stats(): WorkerStats;
  /**
   * Deregisters, answers new tasks BUSY while finishing the accepted ones (up to the drain
   * timeout), then closes the socket. Idempotent; every step runs even if an earlier one failed.
   */
  close(): Promise<void>;
}

/** Binds the UDP socket, serves tasks of one type and keeps the worker registered. */
export async function startWorkerService(options: WorkerServiceOptions): Promise<WorkerService> {
  const { settings, type, logger } = options;
  const cell = new LoadCell();
  const queue = new TaskQueue({
    type,
    concurrency: settings.concurrency,
    queueSize: settings.queueSize,
    workerName: settings.name,
    logger: logger.child({ module: 'queue' }),
    onLoadChange: (load) => cell.write(load),
    // The server exists by the time the first task is queued.
    beforeRun: () => server.flushAcks(),
  });
  cell.write(queue.load());
  const endpoint = await UdpEndpoint.open({
    secret: options.keys.frame,
    host: settings.host,
    port: settings.port,
    logger: logger.child({ module: 'udp' }),
  });
  // Handler spans of traced tasks, only with an OTLP endpoint (the SDK is not loaded otherwise).
  const spans = await openSpanExport(`worker-${type.name}`, logger);
  const server = new TaskServer({
    endpoint,
    spans,
    executor: queue,
    workerName: settings.name,
    resultCacheMaxBytes: settings.resultCacheBytes,
    logger: logger.child({ module: 'tasks' }),
  });
  const thread = new HeartbeatThread({
    logger,
    onFailure: options.onFatal,
    data: {
      loadBuffer: cell.buffer,
      nameserviceUrl: settings.nameserviceUrl,
      nameserviceKey: options.keys.nameservice,
      logLevel: settings.logLevel,
      json: options.jsonLogs,
      register: {
        name: settings.name,
        type: type.name,
        port: endpoint.address.port,
        endpointId: endpoint.id,
        pid: process.pid,
        // Under npm start, the runner's name for this process: its log lines are filed under it.
        meta: { hostname: hostname(), ...(process.env.TASKMESH_RUNNER_SERVICE ? { service: process.env.TASKMESH_RUNNER_SERVICE } : {}) },
        // The dispatcher learns the type, and validates its payloads, from this.
        contract: describeContract(type),
      },
      advertise: { advertiseHost: settings.advertiseHost, bindHost: settings.host, nameserviceUrl: settings.nameserviceUrl },
    },
  });
  const monitor = startLoopMonitor({ logger });

  const stats = (): WorkerStats => ({
    load: queue.load(),
    tasks: server.stats(),
    udp: endpoint.stats(),
    maxLoopBlockedMs: monitor.maxBlockedMs,
  });
  let reportedDrops = 0;
  const dropTimer = setInterval(() => {
    const udp = endpoint.stats();
    if (udp.droppedTotal === reportedDrops) return;
    logger.warn(`dropped ${udp.droppedTotal - reportedDrops} incoming datagrams/messages`, {
      event: 'dropped',
      dropped: udp.dropped,
      droppedTotal: udp.droppedTotal,
    });
    reportedDrops = udp.droppedTotal;
  }, DROP_REPORT_INTERVAL_MS).unref();
  let lastSummary = '';
  const statsTimer = setInterval(() => {
    const now = stats();
    const summary = JSON.stringify(now.tasks);
    if (summary === lastSummary) return;
    lastSummary = summary;
    logger.info('stats', { event: 'stats', ...now });
  }, STATS_LOG_INTERVAL_MS).unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const failed: string[] = [];
      const step = async (name: string, run: () => Promise<void> | void): Promise<void> => {
        try {
          await run();
        } catch (err) {
          failed.push(name);
          logger.warn(`shutdown: ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      clearInterval(dropTimer);
      clearInterval(statsTimer);
      // Stop accepting (new tasks are answered BUSY, so callers go elsewhere) and deregister at
      // once, so dispatchers stop choosing this worker; then wait for the accepted tasks.
      const draining = step('drain', () => drainWithin(server, settings.drainTimeoutMs, queue, logger));
      await step('deregister', () => thread.stop({ deregister: true }));
      await draining;
      await step('close task server', () => server.close());
      await step('close socket', () => endpoint.close());
      await step('flush spans', () => spans?.shutdown());
      monitor.stop();
      logger.info('closed', { event: 'closed', failed, ...stats() });
    })();
    return closing;
  };

  return {
    name: settings.name,
    type: type.name,
    udpPort: endpoint.address.port,
    endpointId: endpoint.id,
    registered: thread.registered,
    stats,
    close,
  };
}

async function drainWithin(server: TaskServer, timeoutMs: number, queue: TaskQueue, logger: Logger): Promise<void> {
  const load = queue.load();
  if (load.queued + load.inFlight > 0)
    logger.info(`draining ${load.queued} queued and ${load.inFlight} running tasks`, { event: 'draining', ...load });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([server.drain().then(() => 'drained' as const), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout')
    throw new Error(`tasks still running after ${timeoutMs} ms (TASKMESH_WORKER_DRAIN_TIMEOUT_MS); abandoning them`);
}
