import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import {
  SIGNATURE_HEADER,
  TaskmeshError,
  WorkerName,
  expressErrorHandler,
  jsonBodyParser,
  parseOrThrow,
  requestUrl,
  type Logger,
  type RequestGuard,
  type HttpGuard,
  type ServiceMetrics,
  TASK_FILTER_FIELDS,
} from '@taskmesh/shared';
import { authenticate, tokenCookie, TOKEN_QUERY } from './auth.js';
import type { Hub } from './hub.js';
import type { WsBudget } from './ws-budget.js';
import type { WorkerAround } from './worker-around.js';

/** The dashboard page and its JSON API. Everything it answers is read from the hub's snapshots. */
export interface HttpAppOptions {
  hub: Hub;
  apiToken?: string;
  /** Host checks on every request, Origin checks on those that change something. */
  guard: RequestGuard;
  /** Proxies a retry to the dispatcher; answers with the dispatcher's status and body. */
  retry: (taskId: string) => Promise<{ status: number; body: unknown }>;
  /** Proxies a read of the dispatcher (a task's trace or record, a search); answers as retry does. */
  read: (path: string) => Promise<{ status: number; body: unknown }>;
  /** Proxies a bulk action (POST with a JSON body) to the dispatcher. */
  write: (path: string, body: unknown) => Promise<{ status: number; body: unknown }>;
  /** Kills, pauses or resumes a worker container for the dispatcher's chaos controls (signed). */
  chaosControl: (path: string, raw: Buffer, signature: string | undefined) => Promise<{ done: string }>;
  /** A worker as it was around a moment: where it runs, its stats now, its log lines then. */
  workerAround: (name: string, at: number) => Promise<WorkerAround>;
  /** The HTTP server's limits (the body budget), shown in /healthz. */
  http: HttpGuard;
  metrics: ServiceMetrics;
  /** What the WebSockets hold unsent, shown in /healthz. */
  budget: WsBudget;
  logger: Logger;
}

/** monitoring/public, next to dist/ and src/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
/** uPlot is served from node_modules, so the page works offline and with no CDN. */
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const TASK_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** What a search may filter by (the dispatcher checks the values). */
/** The Find panel's query: the shared task filter, a page's size and cursor. */
const SEARCH_PARAMS = [...TASK_FILTER_FIELDS, 'limit', 'cursor'] as const;

/** A task id from a path, checked before it goes to the dispatcher. */
function taskIdOf(id: string): string {
  if (!TASK_ID.test(id))
    throw new TaskmeshError('INVALID_REQUEST', `task id "${id.slice(0, 64)}": letters, digits, ".", "_", ":" or "-", at most 128`);
  return id;
}

/** A call to the dispatcher; unreachable is 503. */
async function proxied(call: () => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
  try {
    return await call();
  } catch (err) {
    throw new TaskmeshError('UNAVAILABLE', `dispatcher unreachable: ${(err as Error).message}`, { cause: err });
  }
}

export function createHttpApp(options: HttpAppOptions): Express {
  const { hub, apiToken, guard, retry, read, write, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(guard.middleware());

  // Bodies are small JSON here; one reader for every route, bounded like every service's.
  const body = (limit: number) => jsonBodyParser({ limit, limitVariable: "monitoring's body limit", budget: options.http.budget });

  app.get('/healthz', (_req, res) => {
    res.json({
      status: 'ok',
      docker: hub.snapshot<{ connected: boolean }>('docker')?.connected ?? false,
      clients: hub.clientCount,
      websockets: { buffered: options.budget.buffered, closedSlow: options.budget.closedSlow },
      http: options.http.figures(),
    });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', options.metrics.contentType);
    res.send(await options.metrics.text());
  });

  // The dispatcher's chaos controls under Compose (signed with TASKMESH_SECRET, not the API token).
  app.post('/internal/chaos', body(4 * 1024), async (req, res) => {
    const raw = (req as { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
    res.json(await options.chaosControl(req.path, raw, req.get(SIGNATURE_HEADER)));
  });

  app.use('/api', requireApiToken(apiToken));
  app.get('/api/containers', (_req, res) => {
    res.json({ docker: hub.snapshot('docker'), containers: hub.snapshot('containers') ?? [] });
  });
  app.get('/api/processes', (_req, res) => {
    res.json(hub.snapshot('processes'));
  });
  app.get('/api/workers', (_req, res) => {
    res.json(hub.snapshot('workers'));
  });
  app.get('/api/tasks', (_req, res) => {
    res.json({ ...hub.snapshot<object>('tasks'), events: hub.recent('task-event') });
  });
  // Finding tasks: the dispatcher's list with the filters the page offers.
  app.get('/api/tasks/search', async (req, res) => {
    const params = new URLSearchParams();
    for (const key of SEARCH_PARAMS) {
      const value = req.query[key];
      if (typeof value === 'string' && value !== '') params.set(key, value);
    }
    const answer = await proxied(() => read(`/v1/tasks?${params.toString()}`));
    res.status(answer.status).json(answer.body);
  });
  // Acting on many (before /api/tasks/:id/retry, which would take "bulk" for an id): retry or cancel every task a filter matches (the page asks first).
  app.post('/api/tasks/bulk/:action', body(16 * 1024), async (req, res) => {
    const action = req.params.action;
    if (action !== 'retry' && action !== 'cancel')
      throw new TaskmeshError('NOT_FOUND', `no bulk action "${action.slice(0, 32)}": retry or cancel`);
    const answer = await proxied(() => write(`/v1/tasks/bulk/${action}`, req.body));
    res.status(answer.status).json(answer.body);
  });
  // Chaos controls, as the dispatcher offers them (it refuses unless TASKMESH_CHAOS=1); what is in
  // force comes with the workers topic.
  app.post('/api/chaos/:action', body(4 * 1024), async (req, res) => {
    const action = req.params.action;
    if (!['kill', 'pause', 'resume', 'loss'].includes(action))
      throw new TaskmeshError('NOT_FOUND', `no chaos action "${action.slice(0, 32)}": kill, pause, resume or loss`);
    const answer = await proxied(() => write(`/v1/chaos/${action}`, req.body));
    res.status(answer.status).json(answer.body);
  });
  // A task's page links each attempt's worker: its container or process, stats, and log lines then.
  app.get('/api/workers/:name/around', async (req, res) => {
    const name = parseOrThrow(WorkerName, req.params.name, 'name');
    const at = Number(req.query.at);
    if (!Number.isSafeInteger(at) || at <= 0) throw new TaskmeshError('INVALID_REQUEST', 'at: a time in ms since the epoch');
    res.json(await options.workerAround(name, at));
  });
  app.post('/api/tasks/:id/retry', async (req, res) => {
    const id = taskIdOf(req.params.id);
    const answer = await proxied(() => retry(id));
    res.status(answer.status).json(answer.body);
  });
  // A task's page reads its trace (and, to download, its whole record) from the dispatcher.
  for (const [route, target] of [
    ['/api/tasks/:id/trace', (id: string) => `/v1/tasks/${encodeURIComponent(id)}/trace`],
    ['/api/tasks/:id', (id: string) => `/v1/tasks/${encodeURIComponent(id)}`],
  ] as const) {
    app.get(route, async (req, res) => {
      const path = target(taskIdOf(req.params.id));
      const answer = await proxied(() => read(path));
      res.status(answer.status).json(answer.body);
    });
  }
  app.use('/api', (req, _res, next) => next(new TaskmeshError('NOT_FOUND', `no route for ${req.method} /api${req.path}`)));

  app.use(requirePageToken(apiToken));
  app.get('/vendor/uPlot.iife.min.js', (_req, res) => res.sendFile(join(UPLOT_DIR, 'uPlot.iife.min.js')));
  app.get('/vendor/uPlot.min.css', (_req, res) => res.sendFile(join(UPLOT_DIR, 'uPlot.min.css')));
  // A task's own page: a deep link that works when opened directly.
  app.get('/tasks/:id', (_req, res) => res.sendFile(join(PUBLIC_DIR, 'task.html')));
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  app.use((req, _res, next) => next(new TaskmeshError('NOT_FOUND', `no route for ${req.method} ${req.path}`)));
  app.use(expressErrorHandler(logger));
  return app;
}

/** Scripts send a bearer token; the page's own fetches carry the cookie. */
function requireApiToken(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (authenticate(token, req, false) !== null) next();
    else next(new TaskmeshError('UNAUTHORIZED', 'send the API token as "Authorization: Bearer <TASKMESH_API_TOKEN>"'));
  };
}

/** `?token=` is swapped for a cookie and dropped from the address bar by a redirect. */
function requirePageToken(token: string | undefined): RequestHandler {
  return (req, res, next) => {
    const credential = authenticate(token, req, true);
    if (credential === 'query' && token !== undefined) {
      const url = requestUrl(req.originalUrl);
      url.searchParams.delete(TOKEN_QUERY);
      res.setHeader('Set-Cookie', tokenCookie(token, req.secure));
      res.redirect(303, `${url.pathname}${url.search}`);
      return;
    }
    if (credential !== null) {
      next();
      return;
    }
    res
      .status(401)
      .type('html')
      .send(
        '<!doctype html><title>taskmesh monitoring</title><p>This dashboard needs the API token: open it as <code>/?token=&lt;TASKMESH_API_TOKEN&gt;</code>.</p>',
      );
  };
}
