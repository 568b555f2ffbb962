import { z } from 'zod';
import { SubmitTaskRequest, TaskStatus, type TaskRecord, parseOrThrow } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';
import type { Reply, TaskHandlers } from './task-handlers.js';
import type { TaskRunner } from './task-runner.js';
import type { TaskStore } from './task-store.js';
import type { TaskJournal } from './journal/task-journal.js';

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

/** A request as a route's handler sees it: path parameters decoded, the query as express's simple parser gives it. */
export interface RouteRequest {
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (`json`: always; `optional`: when the request declares JSON, else undefined). */
  body: unknown;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Literal segments and `:name` parameters, matched as express does (any case, one trailing slash). */
  path: string;
  body?: 'json' | 'optional';
  /** Answers through `reply`; a failure is thrown (or rejected) as a TaskmeshError. */
  handle(req: RouteRequest, reply: Reply): void | Promise<void>;
}

const ListQuery = z.strictObject({
  status: TaskStatus.optional(),
  type: z.string().min(1).max(32).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  /** `full=1` includes payloads and results; without it a list is a summary of each task. */
  full: z.enum(['0', '1']).optional(),
  /** Only tasks whose id starts with `id` (a prefix), or that ran at `worker`. */
  id: z
    .string()
    .regex(/^[0-9a-f-]{1,36}$/, 'a task id or its beginning')
    .optional(),
  worker: z.string().min(1).max(64).optional(),
  /** createdAt bounds (ms since the epoch) and the cursor of a previous page (its `nextCursor`). */
  since: z.coerce.number().int().min(0).optional(),
  until: z.coerce.number().int().min(0).optional(),
  cursor: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, 'a task id (the nextCursor of a previous page)')
    .optional(),
});

const RetryRequest = SubmitTaskRequest.pick({ timeoutMs: true, maxAttempts: true });

export interface TaskRoutesDeps {
  runner: TaskRunner;
  store: TaskStore;
  handlers: TaskHandlers;
  journal?: TaskJournal | undefined;
}

/** Every /v1/tasks route, defined once; served by the route server in front of express. */
export function taskRoutes({ runner, store, handlers, journal }: TaskRoutesDeps): Route[] {
  return [
    { method: 'POST', path: '/v1/tasks', body: 'json', handle: (req, reply) => handlers.submit(req.query.wait, req.body, reply) },
    { method: 'POST', path: '/v1/tasks/batch', body: 'json', handle: (req, reply) => handlers.submitBatch(req.body, reply) },
    {
      method: 'GET',
      path: '/v1/tasks',
      handle: async (req, reply) => {
        const query = parseOrThrow(ListQuery, req.query, 'query');
        // Lists are polled (the dashboard, every second): payloads and results, up to megabytes each,
        // are left out unless asked for; their sizes say what GET /v1/tasks/:id would bring.
        const shape = (task: Listed): unknown => (query.full === '1' ? task.record : summaryOf(task));
        if (journal === undefined) {
          const entries = store.list({ ...query, idPrefix: query.id });
          reply.json(200, { tasks: entries.map(shape), nextCursor: null });
          return;
        }
        const page = await journal.list({ ...query, idPrefix: query.id, before: query.cursor }, (id) => store.get(id));
        reply.json(200, { tasks: page.tasks.map(shape), nextCursor: page.nextCursor });
      },
    },
    /** `?wait=<ms>` holds the request until the task ends or the wait runs out; the record either way. */
    { method: 'GET', path: '/v1/tasks/:id', handle: (req, reply) => handlers.get(req.params.id ?? '', req.query.wait, reply) },
    {
      method: 'DELETE',
      path: '/v1/tasks/:id',
      handle: (req, reply) => {
        const entry = handlers.find(req.params.id ?? '');
        runner.cancel(entry);
        reply.json(200, entry.record);
      },
    },
    /** Optional JSON body `{timeoutMs?, maxAttempts?}` replaces the task's values for the new run. */
    {
      method: 'POST',
      path: '/v1/tasks/:id/retry',
      body: 'optional',
      handle: (req, reply) => {
        const entry = handlers.find(req.params.id ?? '');
        const body = req.body;
        const hasBody = body !== undefined && !(typeof body === 'object' && body !== null && Object.keys(body).length === 0);
        const options = hasBody ? parseOrThrow(RetryRequest, body, 'body') : {};
        runner.retry(entry, options);
        reply.json(202, { id: entry.record.id, status: entry.record.status });
      },
    },
  ];
}

type Listed = Pick<TaskEntry, 'record' | 'payloadBytes' | 'resultBytes'>;

/** A task record without its payload and result, with their sizes. */
function summaryOf(task: Listed): Omit<TaskRecord, 'payload' | 'result'> & { payloadBytes: number; resultBytes: number } {
  const { payload: _payload, result: _result, ...rest } = task.record;
  return { ...rest, payloadBytes: task.payloadBytes, resultBytes: task.resultBytes };
}
