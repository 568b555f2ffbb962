import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import { TaskmeshError, expressErrorHandler, requestUrl, type Logger, type RequestGuard } from '@taskmesh/shared';
import { authenticate, tokenCookie, TOKEN_QUERY } from './auth.js';
import type { Hub } from './hub.js';

/** The dashboard page and its JSON API. Everything it answers is read from the hub's snapshots. */
export interface HttpAppOptions {
  hub: Hub;
  apiToken?: string;
  /** Host checks on every request, Origin checks on those that change something. */
  guard: RequestGuard;
  /** Proxies a retry to the dispatcher; answers with the dispatcher's status and body. */
  retry: (taskId: string) => Promise<{ status: number; body: unknown }>;
  /** Proxies a read of the dispatcher (a task's trace or record); answers as retry does. */
  read: (path: string) => Promise<{ status: number; body: unknown }>;
  logger: Logger;
}

/** monitoring/public, next to dist/ and src/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));
/** uPlot is served from node_modules, so the page works offline and with no CDN. */
const UPLOT_DIR = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const TASK_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function createHttpApp({ hub, apiToken, guard, retry, read, logger }: HttpAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, _res, next) => {
    try {
      guard.check(req);
      next();
    } catch (err) {
      next(err);
    }
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', docker: hub.snapshot<{ connected: boolean }>('docker')?.connected ?? false, clients: hub.clientCount });
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
  app.post('/api/tasks/:id/retry', async (req, res) => {
    const id = req.params.id;
    if (!TASK_ID.test(id))
      throw new TaskmeshError('INVALID_REQUEST', `task id "${id.slice(0, 64)}": letters, digits, ".", "_", ":" or "-", at most 128`);
    let answer;
    try {
      answer = await retry(id);
    } catch (err) {
      throw new TaskmeshError('UNAVAILABLE', `dispatcher unreachable: ${(err as Error).message}`, { cause: err });
    }
    res.status(answer.status).json(answer.body);
  });
  // A task's page reads its trace (and, to download, its whole record) from the dispatcher.
  for (const [route, target] of [
    ['/api/tasks/:id/trace', (id: string) => `/v1/tasks/${encodeURIComponent(id)}/trace`],
    ['/api/tasks/:id', (id: string) => `/v1/tasks/${encodeURIComponent(id)}`],
  ] as const) {
    app.get(route, async (req, res) => {
      const id = req.params.id;
      if (!TASK_ID.test(id))
        throw new TaskmeshError('INVALID_REQUEST', `task id "${id.slice(0, 64)}": letters, digits, ".", "_", ":" or "-", at most 128`);
      let answer;
      try {
        answer = await read(target(id));
      } catch (err) {
        throw new TaskmeshError('UNAVAILABLE', `dispatcher unreachable: ${(err as Error).message}`, { cause: err });
      }
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
