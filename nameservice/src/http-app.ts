import express, { type Express, type RequestHandler } from 'express';
import {
  HeartbeatRequest,
  RequestVerifier,
  SIGNATURE_HEADER,
  RegisterRequest,
  TaskmeshError,
  LogLimiter,
  clipped,
  expressErrorHandler,
  jsonBodyParser,
  type HttpGuard,
  type RequestGuard,
  type ServiceMetrics,
  parseOrThrow,
  TaskType,
  WorkerName,
  WorkerListQuery,
  WorkerDownRequest,
  type LeaseResponse,
  type WorkerDownResponse,
  type Logger,
  type WorkerListResponse,
} from '@taskmesh/shared';
import { MAX_BODY_BYTES } from './constants.js';
import { notFound, requireJson } from './http-errors.js';
import type { RegistryWatchers } from './registry-watchers.js';
import type { WorkerRegistry } from './worker-registry.js';

/**
 * The nameservice's HTTP API over a WorkerRegistry. Every input is parsed with the shared
 * schemas; every failure is a JSON error body. The app holds no state of its own.
 */
export interface HttpAppOptions {
  registry: WorkerRegistry;
  /** Checks the signature of requests that change the registry (keyed by TASKMESH_SECRET). */
  verifier: RequestVerifier;
  /** The GET /v1/watch streams. */
  watchers: RegistryWatchers;
  /** The HTTP server's limits (the body budget, the client a request counts against). */
  http: HttpGuard;
  /** Host and Origin checks (DNS rebinding, cross-site requests) before anything else. */
  guard: RequestGuard;
  metrics: ServiceMetrics;
  logger: Logger;
}

/** The raw body, kept by express.json for the signature check. */
type WithRawBody = { rawBody?: Buffer };

export function createHttpApp({ registry, verifier, watchers, http, guard, metrics, logger }: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(guard.middleware());
  app.use(jsonBodyParser({ limit: MAX_BODY_BYTES, limitVariable: 'the nameservice body limit', budget: http.budget }));
  // A refusal is worth a warning, but anyone can cause one: at most a few lines per interval.
  const refusals = new LogLimiter(logger);
  // Registering, heartbeating and deregistering change what the dispatcher routes tasks to: only
  // a holder of TASKMESH_SECRET may do them. Lookups stay open (they only say who is where).
  const signed: RequestHandler = (req, _res, next) => {
    const verdict = verifier.verify(
      { method: req.method, path: req.originalUrl, body: (req as WithRawBody).rawBody ?? '' },
      req.get(SIGNATURE_HEADER),
    );
    if (verdict.ok) next();
    else {
      refusals.warn('unsigned or badly signed request refused', {
        event: 'unauthorized',
        method: clipped(req.method),
        path: clipped(req.path),
        reason: verdict.reason,
        from: req.socket.remoteAddress,
      });
      next(new TaskmeshError('UNAUTHORIZED', verdict.reason));
    }
  };

  app.get('/healthz', (_req, res) => {
    const counts = registry.counts();
    res.json({
      status: 'ok',
      workers: counts.live + counts.suspect,
      ...counts,
      watchers: watchers.size,
      watchesRefused: watchers.refused,
      warningsLeftOut: refusals.suppressedTotal,
      http: http.figures(),
    });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.contentType);
    res.send(await metrics.text());
  });

  // Who is alive changes by push as well as by lookup: the dispatcher holds one of these open.
  // A signed watch (the dispatchers') takes a slot unsigned ones cannot fill.
  app.get('/v1/watch', (req, res) => {
    const header = req.get(SIGNATURE_HEADER);
    if (header !== undefined) {
      const verdict = verifier.verify({ method: 'GET', path: req.originalUrl, body: '' }, header);
      if (!verdict.ok) throw new TaskmeshError('UNAUTHORIZED', verdict.reason);
    }
    watchers.add(res, { signed: header !== undefined, client: http.clientOf(req) });
  });

  // A supervisor (the runner, monitoring on Docker's `die`) saw a worker's process end.
  app.post('/v1/workers/down', requireJson, signed, (req, res) => {
    const body = parseOrThrow(WorkerDownRequest, req.body, 'body');
    const expired = registry.reportDown(body, body.reason);
    logger.info('worker reported down', {
      event: 'reported-down',
      workers: expired,
      reason: body.reason,
      pid: body.pid,
      container: body.container,
    });
    const answer: WorkerDownResponse = { expired };
    res.json(answer);
  });

  app.post('/v1/workers', requireJson, signed, (req, res) => {
    const body = parseOrThrow(RegisterRequest, req.body, 'body');
    const worker = registry.register(body);
    logger.info('worker registered', {
      event: 'registered',
      worker: worker.name,
      type: worker.type,
      host: worker.host,
      port: worker.port,
      pid: worker.pid,
    });
    const answer: LeaseResponse = { worker, lease: registry.lease };
    res.status(201).json(answer);
  });

  app.get('/v1/workers', (req, res) => {
    const filter = parseOrThrow(WorkerListQuery, req.query, 'query');
    const answer: WorkerListResponse = { workers: registry.list(filter) };
    res.json(answer);
  });

  app.get('/v1/workers/:name', (req, res) => {
    const name = parseOrThrow(WorkerName, req.params.name, 'name');
    const worker = registry.get(name);
    if (!worker) throw unknownWorker(name);
    res.json({ worker });
  });

  app.put('/v1/workers/:name/heartbeat', requireJson, signed, (req, res) => {
    const name = parseOrThrow(WorkerName, req.params.name, 'name');
    const body = parseOrThrow(HeartbeatRequest, req.body, 'body');
    if (!registry.heartbeat(name, body)) throw unknownWorker(name);
    res.json({ ok: true, ttlMs: registry.leaseTtlMs });
  });

  app.delete('/v1/workers/:name', signed, (req, res) => {
    const name = parseOrThrow(WorkerName, req.params.name, 'name');
    if (!registry.deregister(name)) throw unknownWorker(name);
    logger.info('worker deregistered', { event: 'deregistered', worker: name });
    res.status(204).end();
  });

  app.get('/v1/types/:type/workers', (req, res) => {
    const type = parseOrThrow(TaskType, req.params.type, 'type');
    const answer: WorkerListResponse = { workers: registry.lookup(type) };
    res.json(answer);
  });

  app.use(notFound);
  app.use(expressErrorHandler(logger, { bodyLimit: { bytes: MAX_BODY_BYTES } }));
  return app;
}

/** 404 that tells a heartbeating worker to register again. */
function unknownWorker(name: string): TaskmeshError {
  return new TaskmeshError('UNKNOWN_WORKER', `worker "${name}" is not registered (unknown or expired); register again`);
}
