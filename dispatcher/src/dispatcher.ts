import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  openSpanExport,
  NameserviceClient,
  RequestGuard,
  TaskCaller,
  UdpEndpoint,
  silentLogger,
  type Logger,
  isFinalStatus,
  traceDecision,
  createHttpServer,
  httpLimitsOf,
  registerHttpMetrics,
  type HttpLimits,
  type TraceSamplerName,
} from '@taskmesh/shared';
import { TokenAuth } from './auth.js';
import { DISPATCHER_DEFAULTS } from './config.js';
import { EventsHub } from './events-hub.js';
import { TypeCatalog } from './type-catalog.js';
import { RegistryFollower } from './registry-follower.js';
import { Chaos, LinkFaults, dockerControl, runnerControl } from './chaos.js';
import { taskSpans } from './task-spans.js';
import type { JournalSync } from './journal/store.js';
import { TaskJournal, entryOf, type JournaledTask, type JournalReport } from './journal/task-journal.js';
import { MAX_TIMELINE_EVENTS, type TaskEntry } from './task-entry.js';
import { createRequestListener } from './http-app.js';
import { LongPolls } from './task-handlers.js';
import { DispatcherMetrics } from './metrics.js';
import { PendingQueue } from './pending-queue.js';
import { WorkerPicker } from './worker-picker.js';
import { AdmissionGate } from './admission-gate.js';
import { TaskRunner } from './task-runner.js';
import { TaskTransitions } from './task-transitions.js';
import { TaskStats } from './task-stats.js';
import { TaskStore } from './task-store.js';
import { WebSockets } from './websockets.js';
import { WorkerDirectory } from './worker-directory.js';

interface DispatcherBaseOptions {
  nameserviceUrl: string;
  /** HMAC key of the UDP protocol (TASKMESH_SECRET). */
  secret: string;
  host?: string;
  /** HTTP port; 0 picks a free one. */
  port?: number;
  udpHost?: string;
  udpPort?: number;
  /** When set, the API and WebSockets require `Authorization: Bearer <apiToken>`. */
  apiToken?: string | undefined;
  taskTypes?: readonly string[];
  /** Host names and browser origins accepted besides the defaults (see RequestGuard). */
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  /** Where the task journal lives (a directory); without it tasks live in memory only. */
  journalPath?: string | undefined;
  /** TASKMESH_JOURNAL_SYNC; default `process` with a journal path. */
  journalSync?: JournalSync | undefined;
  /** TASKMESH_CHAOS: the chaos controls answer instead of refusing (off by default). */
  chaos?: boolean | undefined;
  /** TASKMESH_CHAOS_CONTROL_URL: monitoring, which kills and pauses worker containers (Compose). */
  chaosControlUrl?: string | undefined;
  /** OTEL_TRACES_SAMPLER: which tasks without a caller's sampled traceparent start a trace (none unset). */
  tracesSampler?: TraceSamplerName | undefined;
  /** OTEL_TRACES_SAMPLER_ARG: the traceidratio samplers' share. */
  tracesSamplerArg?: number | undefined;
  logger?: Logger;
}

/** Every limit and timing of a dispatcher; each defaults to DISPATCHER_DEFAULTS (the HTTP ones to HTTP_LIMIT_DEFAULTS). */
export type DispatcherOptions = DispatcherBaseOptions &
  Partial<{ -readonly [K in keyof typeof DISPATCHER_DEFAULTS]: number }> &
  Partial<HttpLimits>;

export interface Dispatcher {
  readonly port: number;
  readonly udpPort: number;
  /** http://host:port, with 127.0.0.1 for a wildcard bind. */
  readonly url: string;
  readonly server: Server;
  /** Stops accepting, closes WebSockets and the UDP endpoint. Idempotent. */
  close(): Promise<void>;
}

/** How often finished tasks past their retention age are evicted while nothing else does it. */
const RETENTION_SWEEP_MS = 1000;
/** /healthz should answer quickly even when the nameservice does not. */
const HEALTH_LOOKUP_TIMEOUT_MS = 1000;

/** Starts a dispatcher: UDP endpoint, worker routing, HTTP API and WebSockets on one port. */
export async function createDispatcher(given: DispatcherOptions): Promise<Dispatcher> {
  const options = { ...DISPATCHER_DEFAULTS, ...definedOnly(given) } as DispatcherBaseOptions & {
    -readonly [K in keyof typeof DISPATCHER_DEFAULTS]: number;
  };
  const logger = options.logger ?? silentLogger();
  const late: { runner?: TaskRunner; sockets?: WebSockets; store?: TaskStore } = {};
  const opened = await openJournal(
    options,
    logger,
    (id) => late.store?.get(id) !== undefined && !isFinalStatus(late.store.get(id)!.record.status),
  );
  const journal = opened?.journal;
  // Who this dispatcher is, across restarts: workers answer a redelivered task to it from state.
  let identity = opened?.meta.get('identity');
  if (identity === undefined) {
    identity = randomUUID();
    journal?.setMeta('identity', identity);
  }
  // Chaos loss sits between the transport and its socket, only when chaos controls are on.
  const faults = options.chaos === true ? new LinkFaults() : null;
  const endpoint = await UdpEndpoint.open({
    secret: options.secret,
    host: options.udpHost ?? '0.0.0.0',
    port: options.udpPort ?? 0,
    logger: logger.child({ module: 'udp' }),
    ...(faults === null ? {} : { wrapSend: faults.wrapSend, dropIncoming: faults.drops }),
  });
  const caller = new TaskCaller({ endpoint, logger: logger.child({ module: 'caller' }), origin: identity });
  const nameservice = new NameserviceClient({
    baseUrl: options.nameserviceUrl,
    secret: options.secret,
    logger: logger.child({ module: 'nameservice' }),
  });
  const health = new NameserviceClient({ baseUrl: options.nameserviceUrl, timeoutMs: HEALTH_LOOKUP_TIMEOUT_MS });

  // The directory and metrics call into parts made after them: reached through `late` once wired.
  const directory = new WorkerDirectory({
    lookup: (type) => nameservice.lookup(type),
    cacheMs: options.lookupCacheMs,
    onRefreshed: (type) => late.runner?.pump(type),
    logger: logger.child({ module: 'directory' }),
  });
  const catalog = new TypeCatalog({ allowlist: options.taskTypes, list: () => health.list(), logger: logger.child({ module: 'types' }) });
  catalog.start();
  // Failover by push: the nameservice says at once when a supervisor saw a worker end; and a
  // worker of a type not known yet is learned at once, not at the catalog's next refresh.
  const follower = new RegistryFollower({
    nameservice,
    directory,
    typeUp: (type) => catalog.learnNow(type),
    failPeer: (peer, reason) => caller.failPeer(peer, reason),
    logger: logger.child({ module: 'follower' }),
  });
  follower.start();
  const store = new TaskStore({
    retention: options.taskRetention,
    retentionMs: options.taskRetentionMs,
    retentionBytes: options.taskRetentionBytes,
  });
  late.store = store;
  const pending = new PendingQueue(options.pendingLimit);
  const events = new EventsHub({
    maxSubscribers: options.maxEventSubscribers,
    maxPerClient: options.maxEventSubscribersPerClient,
    backlogBytes: options.eventsBacklogBytes,
    totalBacklogBytes: options.eventsBacklogTotalBytes,
    logSize: options.eventsLogSize,
    firstSeq: Number(opened?.meta.get('eventSeq') ?? 1),
    reserveSeq: (upTo) => journal?.setMeta('eventSeq', String(upTo)),
  });
  const longPolls = new LongPolls(options.maxLongPolls);
  const guard = new RequestGuard({ allowedHosts: options.allowedHosts ?? [], allowedOrigins: options.allowedOrigins ?? [] });
  const stats = new TaskStats();
  const metrics = new DispatcherMetrics({
    endpointStats: () => endpoint.stats(),
    pending: () => pending.size,
    inFlight: () => late.runner?.inFlight ?? 0,
    eventsSlowClosed: () => events.slowClosed,
    streams: () => late.sockets?.streamCount ?? 0,
    retainedBytes: () => store.retainedBytes,
    unfinishedBytes: () => store.unfinishedBytes,
  });
  const gate = new AdmissionGate({
    catalog,
    pending,
    store,
    pendingBytes: options.pendingBytes,
  });
  // The runner publishes each transition once; everything that counts or shows tasks listens.
  const transitions = new TaskTransitions();
  transitions.subscribe({
    statusChanged: (entry, from, to) => stats.transition(entry.record.type, from, to),
    finished: (_entry, latencyMs) => stats.finished(latencyMs),
  });
  transitions.subscribe({
    submitted: (entry) => metrics.submitted(entry.record.type),
    retrying: (entry, reason) => metrics.retry(entry.record.type, reason),
    finished: (entry, latencyMs) => metrics.finished(entry.record.type, entry.record.status, latencyMs),
  });
  if (journal !== undefined) {
    // The journal is written at the end of the turn: each task once, as it is by then.
    const save = (entry: TaskEntry): void => journal.save(entry);
    transitions.subscribe({ submitted: save, statusChanged: save, finished: save });
  }
  transitions.subscribe({
    // Stream frames are not stored; a finished task becomes evictable only after every count saw it.
    finished: (entry) => {
      if (!entry.ephemeral) store.markFinished(entry);
    },
  });
  // Each task's own timeline, for its trace.
  transitions.subscribe({
    submitted: (entry) => step(entry, 'submitted'),
    dispatched: (entry) => step(entry, 'dispatched', `to ${entry.record.worker ?? '?'}, attempt ${entry.record.attempts}`),
    retrying: (entry, reason) => step(entry, 'retrying', reason),
    finished: (entry) =>
      step(
        entry,
        entry.record.status,
        entry.record.error === null ? undefined : `${entry.record.error.code}: ${entry.record.error.message}`,
      ),
  });
  transitions.subscribe({
    submitted: (entry) => events.publish('submitted', entry),
    dispatched: (entry) => events.publish('dispatched', entry),
    progressed: (entry) => events.publish('progress', entry),
    // A BUSY answer only re-queues: no event.
    retrying: (entry, reason) => {
      if (reason !== 'busy') events.publish('retrying', entry);
    },
    finished: (entry, latencyMs) => {
      const status = entry.record.status;
      if (isFinalStatus(status)) events.publish(status, entry, Math.round(latencyMs * 1000) / 1000);
    },
  });
  // Spans of traced tasks (a sampled traceparent), once each has ended; only with an OTLP endpoint.
  const spans = await openSpanExport('dispatcher', logger);
  if (spans !== null)
    transitions.subscribe({
      finished: (entry) => {
        if (entry.trace !== null) spans.export(taskSpans(entry));
      },
    });
  const runner = new TaskRunner({
    sender: caller,
    store,
    pending,
    picker: new WorkerPicker({ directory, loadThreshold: options.loadThreshold }),
    directory,
    transitions,
    gate,
    defaultTimeoutMs: options.taskTimeoutMs,
    defaultMaxAttempts: options.maxAttempts,
    logger: logger.child({ module: 'runner' }),
  });
  late.runner = runner;
  for (const task of opened?.tasks ?? []) {
    const entry = entryOf(task);
    if (!isFinalStatus(entry.record.status)) step(entry, 'recovered', `after a restart, was ${entry.record.status}`);
    runner.recover(entry);
  }
  if (opened !== undefined) logJournalReport(logger, opened.journal.report);
  const { server, guard: http } = createHttpServer(httpLimitsOf(given));
  registerHttpMetrics(metrics.registry, http, 'taskmesh_dispatcher');
  const startTrace = traceDecision({ sampler: options.tracesSampler, ratio: options.tracesSamplerArg, exporting: spans !== null });
  const listener = createRequestListener({
    startTrace,
    runner,
    store,
    pending,
    directory,
    stats,
    metrics,
    auth: new TokenAuth(options.apiToken),
    listWorkers: () => health.list(),
    maxBodyBytes: options.maxBodyBytes,
    maxBulkScan: options.bulkMaxScan,
    http,
    gate,
    limits: { maxPayloadBytes: options.maxPayloadBytes, maxPayloadDepth: options.maxPayloadDepth },
    longPolls,
    guard,
    journal,
    linkHealth: (worker) => caller.linkHealth(worker),
    chaos: new Chaos({
      enabled: options.chaos === true,
      faults,
      control:
        options.chaos !== true
          ? null
          : (runnerControl() ?? (options.chaosControlUrl === undefined ? null : dockerControl(options.chaosControlUrl, options.secret))),
      findWorker: async (name) => (await health.list()).find((w) => w.name === name),
      logger: logger.child({ module: 'chaos' }),
    }),
    logger: logger.child({ module: 'http' }),
    extraStats: () => ({
      eventSubscribers: events.size,
      imageStreams: late.sockets?.streamCount ?? 0,
      longPolls: longPolls.size,
      retainedBytes: store.retainedBytes,
      unfinishedBytes: store.unfinishedBytes,
      ...follower.stats(),
    }),
  });
  server.on('request', listener);
  // Submit-and-wait clients reuse connections; keep them a little longer than their idle pools.
  server.keepAliveTimeout = 65_000;
  const sockets = new WebSockets({
    server,
    auth: new TokenAuth(options.apiToken),
    guard,
    gate,
    events,
    runner,
    metrics,
    maxStreams: options.maxImageStreams,
    clientOf: http.clientOf,
    logger: logger.child({ module: 'ws' }),
  });
  late.sockets = sockets;
  const sweep = setInterval(() => store.evict(), RETENTION_SWEEP_MS);
  sweep.unref();

  const host = options.host ?? '0.0.0.0';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    clearInterval(sweep);
    runner.close();
    void follower.close();
    caller.close();
    await endpoint.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const steps: Array<[string, () => unknown]> = [
        ['http', () => new Promise<void>((resolve) => server.close(() => resolve()))],
        ['websockets', () => sockets.close()],
        ['connections', () => server.closeAllConnections()],
        ['timers', () => clearInterval(sweep)],
        ['runner', () => runner.close()],
        ['types', () => catalog.close()],
        ['follower', () => follower.close()],
        ['directory', () => directory.close()],
        ['caller', () => caller.close()],
        ['udp', () => endpoint.close()],
        ['journal', () => journal?.close()],
        ['spans', () => spans?.shutdown()],
      ];
      // Every step runs even if an earlier one failed; the HTTP close is awaited last, as held
      // requests only end once connections are closed.
      const pendingSteps: Promise<unknown>[] = [];
      for (const [name, step] of steps) {
        try {
          pendingSteps.push(
            Promise.resolve(step()).catch((err: unknown) => logger.warn('close step failed', { step: name, error: String(err) })),
          );
        } catch (err) {
          logger.warn('close step failed', { step: name, error: String(err) });
        }
      }
      await Promise.all(pendingSteps);
    })();
    return closing;
  };

  return {
    port,
    udpPort: endpoint.address.port,
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    server,
    close,
  };
}

/** Adds a step to a task's timeline (the newest MAX_TIMELINE_EVENTS are kept). */
function step(entry: TaskEntry, event: string, detail?: string): void {
  if (entry.ephemeral) return;
  entry.timeline.push(detail === undefined ? { at: Date.now(), event } : { at: Date.now(), event, detail });
  if (entry.timeline.length > MAX_TIMELINE_EVENTS) entry.timeline.shift();
}

/** Opens the journal when there is one; the tasks it holds are recovered by the caller. */
async function openJournal(
  options: DispatcherBaseOptions & { taskRetentionMs: number; journalRetentionBytes: number; journalRetentionRecords: number },
  logger: Logger,
  isLive: (id: string) => boolean,
): Promise<{ journal: TaskJournal; tasks: JournaledTask[]; meta: Map<string, string> } | undefined> {
  const sync = options.journalSync ?? (options.journalPath === undefined ? 'none' : 'process');
  if (sync === 'none' || options.journalPath === undefined) return undefined;
  return TaskJournal.open(options.journalPath, sync, {
    retentionMs: options.taskRetentionMs,
    retentionBytes: options.journalRetentionBytes,
    retentionRecords: options.journalRetentionRecords,
    isLive,
    logger: logger.child({ module: 'journal' }),
  });
}

function logJournalReport(logger: Logger, report: JournalReport): void {
  const { path, sync, recovered, corrupt, damage } = report;
  logger.info('journal opened', { path, sync, recovered });
  if (damage?.whole === true) logger.error('journal could not be opened: moved aside, started empty', { path, ...damage });
  else if (damage !== null)
    logger.error('journal logs were damaged: what was whole is recovered, the logs are copied aside', { path, ...damage });
  if (corrupt.count > 0) logger.error('journal records could not be read: moved aside', { path, ...corrupt });
}

/** Options left undefined fall back to the defaults instead of overriding them. */
function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
