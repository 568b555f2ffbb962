import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import {
  TaskmeshError,
  expressErrorHandler,
  type Logger,
  type RequestGuard,
  type TypeListResponse,
  type Address,
  type LinkHealth,
  type WorkerRecord,
  type TraceStart,
  type HttpGuard,
} from '@taskmesh/shared';
import type { AdmissionGate } from './admission-gate.js';
import type { AdmissionLimits } from './admission.js';
import type { TokenAuth } from './auth.js';
import { createRouteServer } from './route-server.js';
import { bodyLimitOf, notFound } from './http-errors.js';
import type { TaskJournal } from './journal/task-journal.js';
import type { DispatcherMetrics } from './metrics.js';
import type { PendingQueue } from './pending-queue.js';
import type { TaskRunner } from './task-runner.js';
import type { TaskStats } from './task-stats.js';
import type { TaskStore } from './task-store.js';
import { LongPolls, TaskHandlers } from './task-handlers.js';
import { taskRoutes } from './task-routes.js';
import { chaosRoutes } from './chaos-routes.js';
import type { Chaos } from './chaos.js';
import type { WorkerDirectory } from './worker-directory.js';

export interface HttpAppDeps {
  /** Whether a submitted task is traced, from its traceparent and the sampler (traceDecision). */
  startTrace: (traceparent: string | undefined) => TraceStart | null;
  runner: TaskRunner;
  store: TaskStore;
  pending: PendingQueue;
  directory: WorkerDirectory;
  stats: TaskStats;
  metrics: DispatcherMetrics;
  auth: TokenAuth;
  /** The nameservice's full list (GET /v1/workers, /healthz). */
  listWorkers: () => Promise<WorkerRecord[]>;
  maxBodyBytes: number;
  /** TASKMESH_BULK_MAX_SCAN: journal records one bulk request reads at most. */
  maxBulkScan: number;
  /** The HTTP server's limits: the body budget, what they refused (for /metrics and /healthz). */
  http: HttpGuard;
  limits: AdmissionLimits;
  longPolls: LongPolls;
  gate: AdmissionGate;
  /** Host and Origin checks (DNS rebinding, cross-site requests) before anything else. */
  guard: RequestGuard;
  logger: Logger;
  /** How the link to a worker behaves, as the dispatcher's transport measures it. */
  linkHealth?: (worker: Address) => LinkHealth | null;
  /** The task journal, when there is one (answers wait for it; /healthz reports it). */
  journal?: TaskJournal | undefined;
  /** The chaos controls (refused unless TASKMESH_CHAOS=1). */
  chaos: Chaos;
  /** Extra figures for /v1/stats (WebSocket counts). */
  extraStats?: () => Record<string, number | boolean>;
}

/**
 * The dispatcher's HTTP API apart from the task routes (express 5). /healthz is open; everything
 * else needs the bearer token when one is configured. No route here takes a body.
 */
function createHttpApp(deps: HttpAppDeps): Express {
  const { runner, pending, directory, stats, metrics, auth } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  app.use(deps.guard.middleware());

  app.get('/healthz', async (_req, res) => {
    let reachable = false;
    let workers = 0;
    try {
      workers = (await deps.listWorkers()).filter((w) => w.state === 'live').length;
      reachable = true;
    } catch {
      reachable = false;
    }
    const journal =
      deps.journal === undefined
        ? { sync: 'none' }
        : { ...deps.journal.report, backlog: deps.journal.backlog, ...deps.journal.counters, retained: deps.journal.retained };
    res.json({
      status: reachable ? 'ok' : 'degraded',
      nameservice: reachable,
      workers,
      pending: pending.size,
      inFlight: runner.inFlight,
      journal,
      http: deps.http.figures(),
    });
  });

  app.use(auth.middleware());

  app.get('/v1/workers', async (_req, res) => {
    let workers: WorkerRecord[];
    try {
      workers = await deps.listWorkers();
    } catch (err) {
      throw new TaskmeshError('UNAVAILABLE', `cannot list workers: ${err instanceof Error ? err.message : String(err)}`);
    }
    res.json({
      workers: workers.map((w) => ({
        ...w,
        dispatcherInFlight: directory.get(w.name)?.ownInFlight ?? 0,
        // As this dispatcher's transport measures it: null until a task went there.
        link: deps.linkHealth?.({ host: w.host, port: w.port, ...(w.endpointId === undefined ? {} : { id: w.endpointId }) }) ?? null,
      })),
    });
  });

  app.get('/v1/types', (_req, res) => {
    const answer: TypeListResponse = { types: deps.gate.catalog.describe() };
    res.json(answer);
  });

  app.get('/v1/stats', (_req, res) => {
    res.json({ ...stats.snapshot(pending.size, runner.inFlight), ...deps.extraStats?.() });
  });

  app.get('/metrics', async (_req, res) => {
    const text = await metrics.text();
    res.setHeader('Content-Type', metrics.contentType);
    res.send(text);
  });

  app.use(notFound);
  app.use(expressErrorHandler(deps.logger, bodyLimitOf(deps.maxBodyBytes)));
  return app;
}

/** The HTTP server's listener: the task routes from node:http (route-server.ts), express for the rest. */
export function createRequestListener(deps: HttpAppDeps): RequestListener {
  const handlers = new TaskHandlers(deps.runner, deps.store, deps.gate, deps.limits, deps.startTrace, deps.longPolls, deps.journal);
  const routes = createRouteServer({
    routes: [
      ...taskRoutes({ runner: deps.runner, store: deps.store, handlers, journal: deps.journal, maxBulkScan: deps.maxBulkScan }),
      ...chaosRoutes(deps.chaos),
    ],
    auth: deps.auth,
    maxBodyBytes: deps.maxBodyBytes,
    budget: deps.http.budget,
    logger: deps.logger,
  });
  const app = createHttpApp(deps);
  return (req, res) => {
    // A request the guard refuses goes to express, whose first middleware answers it.
    if (!deps.guard.allows(req) || !routes(req, res)) app(req, res);
  };
}
