import { z } from 'zod';
import { SubmitTaskRequest, TaskFilter, TaskStatus, TaskmeshError, type TaskRecord, parseOrThrow } from '@taskmesh/shared';
import { recordText, type TaskEntry } from './task-entry.js';
import type { Reply, TaskHandlers } from './task-handlers.js';
import type { TaskRunner } from './task-runner.js';
import type { TaskStore } from './task-store.js';
import type { JournalListQuery, TaskJournal } from './journal/task-journal.js';

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

/** A request as a route's handler sees it: path parameters decoded, the query as express's simple parser gives it. */
export interface RouteRequest {
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (`json`: always; `optional`: when the request declares JSON, else undefined). */
  body: unknown;
  /** The W3C traceparent header, as sent. */
  traceparent?: string | undefined;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Literal segments and `:name` parameters, matched as express does (any case, one trailing slash). */
  path: string;
  body?: 'json' | 'optional';
  /** Answers through `reply`; a failure is thrown (or rejected) as a TaskmeshError. */
  handle(req: RouteRequest, reply: Reply): void | Promise<void>;
}

/** The shared TaskFilter as query parameters (numbers come as text), with a page's size and cursor. */
const ListQuery = TaskFilter.extend({
  since: z.coerce.number().int().min(0).optional(),
  until: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  /** `full=1` includes payloads and results; without it a list is a summary of each task. */
  full: z.enum(['0', '1']).optional(),
  /** The cursor of a previous page (its `nextCursor`). */
  cursor: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, 'a task id (the nextCursor of a previous page)')
    .optional(),
});

const RetryRequest = SubmitTaskRequest.pick({ timeoutMs: true, maxAttempts: true });

/** Most tasks one bulk request acts on; the answer says when more matched. */
const MAX_BULK_TASKS = 10_000;

/** A bulk action's filter: at least a status, so "everything" is never one click away. */
const BulkRequest = TaskFilter.extend({
  status: TaskStatus,
  limit: z.number().int().min(1).max(MAX_BULK_TASKS).default(MAX_BULK_TASKS),
  /** Continue where an earlier answer's nextCursor said it stopped. */
  cursor: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, 'a task id (the nextCursor of a previous answer)')
    .optional(),
});

export interface TaskRoutesDeps {
  runner: TaskRunner;
  store: TaskStore;
  handlers: TaskHandlers;
  journal?: TaskJournal | undefined;
  /**
   * TASKMESH_BULK_MAX_SCAN: most journal records one bulk request reads (a filter that matches
   * little would otherwise walk the whole journal for one request); past it the answer says
   * where to continue (`nextCursor`).
   */
  maxBulkScan: number;
}

/** Every /v1/tasks route, defined once; served by the route server in front of express. */
export function taskRoutes({ runner, store, handlers, journal, maxBulkScan }: TaskRoutesDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/tasks',
      body: 'json',
      handle: (req, reply) => handlers.submit(req.query.wait, req.body, reply, req.traceparent),
    },
    {
      method: 'POST',
      path: '/v1/tasks/batch',
      body: 'json',
      handle: (req, reply) => handlers.submitBatch(req.body, reply, req.traceparent),
    },
    /**
     * Bulk actions on a filtered set, `{status, type?, worker?, id?, since?, until?, limit?}`:
     * retry them (failed or cancelled ones) or cancel them (queued or running ones). The answer
     * counts what matched, what changed and why the rest did not.
     */
    ...(['retry', 'cancel'] as const).map((action): Route => ({
      method: 'POST',
      path: `/v1/tasks/bulk/${action}`,
      body: 'json',
      handle: async (req, reply) => {
        const filter = parseOrThrow(BulkRequest, req.body, 'body');
        let matched = 0;
        let changed = 0;
        const refused = new Map<string, number>();
        // A page at a time, each acted on before the next is read: what is held is one page,
        // bounded in count and bytes, whatever the filter matches.
        const act = (tasks: readonly Listed[]): void => {
          matched += tasks.length;
          for (const { record } of tasks) {
            try {
              const entry = handlers.find(record.id);
              if (action === 'retry') runner.retry(entry);
              else runner.cancel(entry);
              changed++;
            } catch (err) {
              const code = err instanceof TaskmeshError ? err.code : 'INTERNAL';
              refused.set(code, (refused.get(code) ?? 0) + 1);
            }
          }
        };
        let nextCursor: string | null = null;
        if (journal === undefined) act(store.list({ ...filter, idPrefix: filter.id }));
        else
          nextCursor = await eachPage(journal, { ...filter, idPrefix: filter.id }, (id) => store.get(id), { ...filter, maxBulkScan }, act);
        reply.json(200, { action, matched, changed, refused: Object.fromEntries(refused), limit: filter.limit, nextCursor });
      },
    })),
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
    /** The task's whole story: its record, each attempt (where, why there, how it went) and its timeline. */
    {
      method: 'GET',
      path: '/v1/tasks/:id/trace',
      handle: (req, reply) => {
        const entry = handlers.find(req.params.id ?? '');
        reply.json(200, {
          task: entry.record,
          traceId: entry.trace?.traceId ?? null,
          attempts: entry.attemptTraces,
          events: entry.timeline,
        });
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
        reply.json(200, recordText(entry));
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

/**
 * Hands `act` each page of a journal listing in turn, up to `limit` tasks and `maxBulkScan`
 * records read; returns where to continue when it stopped for either (null: it reached the end).
 */
async function eachPage(
  journal: TaskJournal,
  query: Omit<JournalListQuery, 'limit' | 'before'>,
  fresh: (id: string) => TaskEntry | undefined,
  { limit, cursor, maxBulkScan }: { limit: number; cursor?: string | undefined; maxBulkScan: number },
  act: (tasks: readonly Listed[]) => void,
): Promise<string | null> {
  let before = cursor;
  let taken = 0;
  let scanned = 0;
  for (;;) {
    const page = await journal.list({ ...query, limit: limit - taken, before, maxScan: maxBulkScan - scanned }, fresh);
    act(page.tasks);
    taken += page.tasks.length;
    scanned += page.scanned;
    if (page.nextCursor === null) return null;
    if (taken >= limit || scanned >= maxBulkScan) return page.nextCursor;
    before = page.nextCursor;
  }
}

/** A task record without its payload and result, with their sizes. */
function summaryOf(task: Listed): Omit<TaskRecord, 'payload' | 'result'> & { payloadBytes: number; resultBytes: number } {
  const { payload: _payload, result: _result, ...rest } = task.record;
  return { ...rest, payloadBytes: task.payloadBytes, resultBytes: task.resultBytes };
}
