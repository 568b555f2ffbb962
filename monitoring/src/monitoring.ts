import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { hostname } from 'node:os';
import type Dockerode from 'dockerode';
import type { WebSocketServer } from 'ws';
import {
  NameserviceClient,
  RequestGuard,
  createHttpServer,
  createServiceMetrics,
  delay,
  httpLimitsOf,
  silentLogger,
  type HttpLimits,
  type Logger,
} from '@taskmesh/shared';
import { Hub, MAX_CLIENT_BUFFER_BYTES } from './hub.js';
import { WsBudget } from './ws-budget.js';
import { workerAround } from './worker-around.js';
import { ChaosControl } from './chaos-control.js';
import { createHttpApp } from './http-app.js';
import { attachWsRoutes } from './ws-routes.js';
import { joinWorkers } from './worker-join.js';
import { DispatcherStats, ThroughputSeries, type ThroughputView } from './throughput-series.js';
import { DockerSource } from './sources/docker-source.js';
import { RunnerSource, type ProcessesSnapshot } from './sources/runner-source.js';
import { NameserviceSource } from './sources/nameservice-source.js';
import { DispatcherSource, type TasksSnapshot } from './sources/dispatcher-source.js';
import { ImageRelay } from './sources/image-relay.js';
import type { ContainerView } from './sources/docker-view.js';

export interface MonitoringOptions extends Partial<HttpLimits> {
  /** Default 127.0.0.1 here; main.ts passes TASKMESH_MONITORING_HOST (0.0.0.0). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  nameserviceUrl: string;
  dispatcherUrl: string;
  /** The Docker API client; null runs without Docker (the process view only). */
  docker: Dockerode | null;
  /** TASKMESH_COMPOSE_PROJECT. */
  composeProject?: string;
  /** The local runner's state file (TASKMESH_RUNNER_STATE_FILE). */
  runnerStateFile?: string | null;
  /** TASKMESH_API_TOKEN: required by the page and API, and sent to the dispatcher. */
  apiToken?: string;
  /** TASKMESH_ALLOWED_HOSTS / TASKMESH_ALLOWED_ORIGINS: accepted besides the defaults (see RequestGuard). */
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  /** TASKMESH_MONITORING_MAX_CLIENTS: WebSockets open at once. */
  maxClients?: number;
  /** TASKMESH_MONITORING_CLIENT_BUFFER_BYTES / _BUFFER_BYTES: unsent bytes per WebSocket and in all. */
  clientBufferBytes?: number;
  bufferBytes?: number;
  /** How often upstreams are polled (nameservice, dispatcher stats, runner file, container list). */
  pollIntervalMs?: number;
  /** Frame rate asked of the dispatcher's image stream. */
  imageFps?: number;
  /** Used to find our own container; defaults to os.hostname(). */
  selfHostname?: string;
  /** TASKMESH_SECRET: lets monitoring report a worker container's `die` to the nameservice. */
  secret?: string | undefined;
  /** TASKMESH_CHAOS: kill, pause and resume worker containers when the dispatcher asks (signed). */
  chaos?: boolean | undefined;
  logger?: Logger;
}

/** Monitoring's defaults, one place for its environment (main.ts) and createMonitoring's options. */
export const MONITORING_DEFAULTS = {
  /** TASKMESH_MONITORING_MAX_CLIENTS: dashboards, log and image streams open at once. */
  maxClients: 64,
  /** TASKMESH_MONITORING_CLIENT_BUFFER_BYTES: what one WebSocket may hold unsent. */
  clientBufferBytes: MAX_CLIENT_BUFFER_BYTES,
  /** TASKMESH_MONITORING_BUFFER_BYTES: what all of them together may. */
  bufferBytes: 64 * 1024 * 1024,
  /** TASKMESH_MONITORING_POLL_MS: how often upstreams are polled. */
  pollIntervalMs: 1000,
  /** TASKMESH_MONITORING_IMAGE_FPS: the rate asked of the dispatcher's image stream. */
  imageFps: 5,
} as const;

export interface Monitoring {
  readonly port: number;
  readonly url: string;
  readonly hub: Hub;
  /** Whether the Docker API answered by the time the service was ready. */
  readonly dockerConnected: boolean;
  /** Idempotent: stops every source, closes every client and the server. */
  close(): Promise<void>;
}

/** The wait for Docker's first answer before reporting ready; it keeps trying after that. */
const DOCKER_FIRST_POLL_MS = 2000;

/** The `tasks` topic: the dispatcher's state with the chart series computed here. */
export interface TasksTopic extends Omit<TasksSnapshot, 'stats'> {
  stats: DispatcherStats | null;
  throughput: ThroughputView | null;
}

/**
 * Builds the monitoring service: sources feed the hub, the hub feeds the page and the API.
 * The HTTP server is listening when the returned promise resolves.
 */
export async function createMonitoring(options: MonitoringOptions): Promise<Monitoring> {
  const logger = options.logger ?? silentLogger();
  const interval = options.pollIntervalMs ?? MONITORING_DEFAULTS.pollIntervalMs;
  const sockets: { wss?: WebSocketServer } = {};
  const budget = new WsBudget(
    () => sockets.wss?.clients ?? [],
    options.clientBufferBytes ?? MONITORING_DEFAULTS.clientBufferBytes,
    options.bufferBytes ?? MONITORING_DEFAULTS.bufferBytes,
  );
  const hub = new Hub(budget);
  const log = (module: string): Logger => logger.child({ module });

  const docker = options.docker
    ? new DockerSource({
        docker: options.docker,
        project: options.composeProject,
        selfHostname: options.selfHostname ?? hostname(),
        intervalMs: Math.max(interval, 2000),
        logger: log('docker'),
      })
    : null;
  const runner = new RunnerSource({ file: options.runnerStateFile ?? null, intervalMs: interval, logger: log('runner') });
  const nsClient = new NameserviceClient({ baseUrl: options.nameserviceUrl, logger: log('nameservice') });
  const nameservice = new NameserviceSource({
    url: nsClient.baseUrl,
    list: () => nsClient.list(),
    intervalMs: interval,
    logger: log('nameservice'),
  });
  const dispatcherUrl = options.dispatcherUrl.replace(/\/+$/, '');
  const dispatcher = new DispatcherSource({ url: dispatcherUrl, token: options.apiToken, intervalMs: interval, logger: log('dispatcher') });
  const relay = new ImageRelay({
    dispatcherUrl,
    token: options.apiToken,
    fps: options.imageFps ?? MONITORING_DEFAULTS.imageFps,
    logger: log('image'),
  });
  const throughput = new ThroughputSeries();

  let containers: ContainerView[] = [];
  let processes: ProcessesSnapshot = runner.snapshot;
  // Heartbeat ages are as of the last read of the list, so unrelated updates do not change them.
  let workersReadAt = Date.now();
  const publishWorkers = (): void => {
    const { workers, ...status } = nameservice.snapshot;
    const joined = joinWorkers(workers, containers, processes.processes, workersReadAt);
    // The link as the dispatcher measures it (null before it sent the worker a task).
    hub.setSnapshot('workers', {
      ...status,
      workers: joined.map((w) => ({ ...w, link: dispatcher.linkOf(w.name) })),
      // The chaos controls belong to the workers table: what it offers, and what is in force on each row.
      chaos: dispatcher.chaos,
    });
  };
  const publishTasks = (snap: TasksSnapshot): void => {
    const parsed = snap.stats === null ? null : DispatcherStats.safeParse(snap.stats);
    const stats = parsed?.success ? parsed.data : null;
    const topic: TasksTopic = { ...snap, stats, throughput: stats ? throughput.add(stats) : null };
    if (parsed && !parsed.success) {
      topic.error = "the dispatcher's /v1/stats answer does not match what monitoring expects";
      topic.connected = false;
    }
    hub.setSnapshot('tasks', topic);
  };

  hub.setSnapshot(
    'docker',
    docker ? docker.status : { connected: false, error: 'Docker is disabled', since: Date.now(), projects: [], projectSource: null },
  );
  hub.setSnapshot('containers', []);
  hub.setSnapshot('processes', processes);
  publishWorkers();
  publishTasks(dispatcher.snapshot);

  docker?.on('status', (s) => hub.setSnapshot('docker', s));
  docker?.on('containers', (list) => {
    containers = list;
    hub.setSnapshot('containers', list);
    publishWorkers();
  });
  docker?.on('event', (e) => hub.pushFeed('docker-event', e));
  // A worker container died: the nameservice hears it now, and the dispatcher by push from there.
  const reporter =
    options.secret === undefined ? undefined : new NameserviceClient({ baseUrl: options.nameserviceUrl, secret: options.secret });
  docker?.on('event', (e) => {
    if (reporter === undefined || e.action !== 'die' || !(e.service ?? '').startsWith('worker')) return;
    reporter
      .reportDown({
        container: e.id,
        reason: `container ${e.name ?? e.id.slice(0, 12)} died${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}, seen by monitoring`,
      })
      .catch((err: Error) => logger.warn('could not report a dead worker container', { container: e.id, error: err.message }));
  });
  runner.on('update', (snap) => {
    processes = snap;
    hub.setSnapshot('processes', snap);
    publishWorkers();
  });
  nameservice.on('update', () => {
    workersReadAt = Date.now();
    publishWorkers();
  });
  dispatcher.on('update', publishTasks);
  // Link figures come with the dispatcher's poll: the workers panel shows them as they change.
  dispatcher.on('update', () => publishWorkers());
  dispatcher.on('event', (e) => hub.pushFeed('task-event', e));

  const chaos = new ChaosControl(options.chaos === true, options.secret, docker);
  if (options.chaos === true && docker !== null)
    // A pause whose timer was lost with a restart of this service ends now.
    docker.once('containers', () => {
      void docker.resumePausedWorkers().then((ids) => {
        if (ids.length > 0) logger.warn('chaos: resumed paused worker containers', { containers: ids });
      });
    });
  const guard = new RequestGuard({ allowedHosts: options.allowedHosts ?? [], allowedOrigins: options.allowedOrigins ?? [] });
  const { server, guard: http } = createHttpServer(httpLimitsOf(options));
  const app = createHttpApp({
    http,
    metrics: createServiceMetrics(http, 'taskmesh_monitoring', [
      {
        name: 'taskmesh_monitoring_websockets_closed_slow_total',
        help: 'WebSockets closed for holding more unsent data than TASKMESH_MONITORING_(CLIENT_)BUFFER_BYTES',
        read: () => budget.closedSlow,
      },
    ]),
    budget,
    hub,
    apiToken: options.apiToken,
    guard,
    retry: (id) => dispatcher.retry(id),
    read: (path) => dispatcher.read(path),
    write: (path, body) => dispatcher.write(path, body),
    chaosControl: (path, raw, signature) => chaos.handle(path, raw, signature),
    workerAround: (name, at) =>
      workerAround(
        {
          workers: () => nameservice.snapshot.workers,
          containers: () => containers,
          processes: () => processes.processes,
          docker,
          runnerLogDir: options.runnerStateFile ? join(dirname(options.runnerStateFile), 'logs') : null,
        },
        name,
        at,
      ),
    logger: log('http'),
  });
  server.on('request', app);
  const wss = attachWsRoutes({
    server,
    hub,
    relay,
    docker,
    apiToken: options.apiToken,
    guard,
    maxClients: options.maxClients ?? MONITORING_DEFAULTS.maxClients,
    budget,
    logger: log('ws'),
  });
  sockets.wss = wss;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');

  const firstDockerAnswer = docker ? new Promise<void>((resolve) => docker.once('status', () => resolve())) : Promise.resolve();
  docker?.start();
  runner.start();
  nameservice.start();
  dispatcher.start();
  await Promise.race([firstDockerAnswer, delay(DOCKER_FIRST_POLL_MS)]);

  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1'}:${port}`,
    hub,
    dockerConnected: docker?.status.connected ?? false,
    close() {
      // Each step runs even if an earlier one fails.
      closing ??= (async () => {
        const steps: Array<() => unknown> = [
          () => relay.close(),
          () => hub.close(),
          () => docker?.close(),
          () => runner.close(),
          () => nameservice.close(),
          () => dispatcher.close(),
          () => {
            for (const ws of wss.clients) ws.terminate();
            wss.close();
          },
          () => {
            server.closeAllConnections();
            return new Promise<void>((resolve) => server.close(() => resolve()));
          },
        ];
        const results = await Promise.allSettled(steps.map((step) => Promise.resolve().then(step)));
        for (const r of results) if (r.status === 'rejected') logger.warn('close step failed', { error: String(r.reason) });
      })();
      return closing;
    },
  };
}
