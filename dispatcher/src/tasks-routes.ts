import { Router as ExpressRouter, type Response } from 'express';
import { z } from 'zod';
import { SubmitTaskRequest, TaskStatus, type TaskRecord, parseOrThrow } from '@taskmesh/shared';
import { requireJson } from './http-errors.js';
import type { TaskEntry } from './task-entry.js';
import type { Reply, TaskHandlers } from './task-handlers.js';
import type { TaskRunner } from './task-runner.js';
import type { TaskStore } from './task-store.js';

export { MAX_WAIT_MS } from './task-handlers.js';
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

const ListQuery = z.strictObject({
  status: TaskStatus.optional(),
  type: z.string().min(1).max(32).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  /** `full=1` includes payloads and results; without it a list is a summary of each task. */
  full: z.enum(['0', '1']).optional(),
});

const RetryRequest = SubmitTaskRequest.pick({ timeoutMs: true, maxAttempts: true });

export interface TasksRoutesDeps {
  runner: TaskRunner;
  store: TaskStore;
  handlers: TaskHandlers;
}

const replyOf = (res: Response): Reply => ({
  json: (status, body) => void res.status(status).json(body),
  onClose: (fn) => void res.on('close', fn),
});

/** POST/GET/DELETE /v1/tasks... (the busiest three also have the fast lane in front of them). */
export function tasksRoutes({ runner, store, handlers }: TasksRoutesDeps): ExpressRouter {
  const r = ExpressRouter();

  r.post('/v1/tasks', requireJson, (req, res) => handlers.submit(req.query.wait, req.body, replyOf(res)));

  r.post('/v1/tasks/batch', requireJson, (req, res) => handlers.submitBatch(req.body, replyOf(res)));

  r.get('/v1/tasks', (req, res) => {
    const query = parseOrThrow(ListQuery, req.query, 'query');
    const entries = store.list(query);
    // Lists are polled (the dashboard, every second): payloads and results, up to megabytes each,
    // are left out unless asked for; their sizes say what GET /v1/tasks/:id would bring.
    res.json({ tasks: query.full === '1' ? entries.map((e) => e.record) : entries.map(summaryOf) });
  });

  /** `?wait=<ms>` holds the request until the task ends or the wait runs out; the record either way. */
  r.get('/v1/tasks/:id', (req, res) => handlers.get(req.params.id, req.query.wait, replyOf(res)));

  r.delete('/v1/tasks/:id', (req, res) => {
    const entry = handlers.find(req.params.id);
    runner.cancel(entry);
    res.json(entry.record);
  });

  /** Optional JSON body `{timeoutMs?, maxAttempts?}` replaces the task's values for the new run. */
  r.post('/v1/tasks/:id/retry', (req, res) => {
    const entry = handlers.find(req.params.id);
    const body: unknown = req.body;
    const hasBody = body !== undefined && !(typeof body === 'object' && body !== null && Object.keys(body).length === 0);
    const options = hasBody ? parseOrThrow(RetryRequest, req.body, 'body') : {};
    runner.retry(entry, options);
    res.status(202).json({ id: entry.record.id, status: entry.record.status });
  });

  return r;
}

/** A task record without its payload and result, with their sizes. */
function summaryOf(entry: TaskEntry): Omit<TaskRecord, 'payload' | 'result'> & { payloadBytes: number; resultBytes: number } {
  const { payload: _payload, result: _result, ...rest } = entry.record;
  return { ...rest, payloadBytes: entry.payloadBytes, resultBytes: entry.resultBytes };
}
