import { Router as ExpressRouter, type Response } from 'express';
import { z } from 'zod';
import { MAX_BATCH_TASKS, SubmitBatchRequest, SubmitTaskRequest, TaskStatus, TaskmeshError } from '@taskmesh/shared';
import { parseInput, requireJson } from './http-errors.js';
import type { TaskEntry } from './task-entry.js';
import type { NewTask, TaskRunner } from './task-runner.js';
import type { TaskStore } from './task-store.js';

/** The longest a `?wait=` may hold a request. */
export const MAX_WAIT_MS = 600_000;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

const WaitQuery = z.object({ wait: z.coerce.number().int().min(0).max(MAX_WAIT_MS).optional() });
const ListQuery = z.strictObject({
  status: TaskStatus.optional(),
  type: z.string().min(1).max(32).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
});

const RetryRequest = SubmitTaskRequest.pick({ timeoutMs: true, maxAttempts: true });

const isFinal = (e: TaskEntry): boolean => e.record.status === 'succeeded' || e.record.status === 'failed' || e.record.status === 'cancelled';

export interface TasksRoutesDeps {
  runner: TaskRunner;
  store: TaskStore;
}

/** POST/GET/DELETE /v1/tasks... */
export function tasksRoutes({ runner, store }: TasksRoutesDeps): ExpressRouter {
  const r = ExpressRouter();

  const find = (id: string): TaskEntry => {
    const entry = store.get(id);
    if (entry === undefined) throw new TaskmeshError('NOT_FOUND', `no task ${id} (unknown, or finished and evicted)`);
    return entry;
  };

  /** Answers now, or once the task ends within `waitMs` (200 with the record), else 202. */
  const answer = (res: Response, entry: TaskEntry, waitMs: number | undefined, status: 200 | 202): void => {
    const brief = (code: number): void => void res.status(code).json({ id: entry.record.id, status: entry.record.status });
    if (waitMs === undefined) return brief(status);
    if (isFinal(entry)) return void res.status(200).json(entry.record);
    if (waitMs === 0) return brief(status);
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      unsubscribe();
      brief(202);
    }, waitMs);
    const unsubscribe = runner.onFinal(entry, (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.status(200).json(e.record);
    });
    res.on('close', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
    });
  };

  const existing = (task: NewTask, where: string): TaskEntry | undefined => {
    if (task.idempotencyKey === undefined) return undefined;
    const entry = store.byIdempotencyKey(task.idempotencyKey);
    if (entry !== undefined && entry.record.type !== task.type) {
      throw new TaskmeshError('CONFLICT', `${where}idempotencyKey "${task.idempotencyKey}" belongs to task ${entry.record.id} of type ${entry.record.type}`);
    }
    return entry;
  };

  r.post('/v1/tasks', requireJson, (req, res) => {
    const { wait } = parseInput(WaitQuery, { wait: req.query.wait }, 'query');
    const task = parseInput(SubmitTaskRequest, req.body, 'task');
    runner.checkType(task.type);
    const dup = existing(task, '');
    if (dup !== undefined) return answer(res, dup, wait, 200);
    runner.checkRoom(1);
    answer(res, runner.submit(task), wait, 202);
  });

  r.post('/v1/tasks/batch', requireJson, (req, res) => {
    const body: unknown = req.body;
    const tasks = typeof body === 'object' && body !== null ? (body as { tasks?: unknown }).tasks : undefined;
    if (Array.isArray(tasks) && tasks.length > MAX_BATCH_TASKS) {
      throw new TaskmeshError('PAYLOAD_TOO_LARGE', `batch of ${tasks.length} tasks: at most MAX_BATCH_TASKS=${MAX_BATCH_TASKS} per request`, {
        details: { limit: MAX_BATCH_TASKS },
      });
    }
    // A full queue is answered before validating hundreds of tasks: clients retrying on 429 should cost little.
    // (Tasks with idempotency keys may need no room, so those batches take the full path.)
    if (Array.isArray(tasks) && !tasks.some((t) => typeof t === 'object' && t !== null && 'idempotencyKey' in t)) runner.checkRoom(tasks.length);
    const batch = parseInput(SubmitBatchRequest, body, 'batch');
    // Everything is checked before the first task is created: all or none.
    const seen = new Map<string, string>();
    let fresh = 0;
    batch.tasks.forEach((t, i) => {
      runner.checkType(t.type, `tasks.${i}.type`);
      if (t.idempotencyKey !== undefined) {
        const earlier = seen.get(t.idempotencyKey);
        if (earlier !== undefined && earlier !== t.type) throw new TaskmeshError('CONFLICT', `tasks.${i}: idempotencyKey "${t.idempotencyKey}" used for two types`);
        if (earlier !== undefined || existing(t, `tasks.${i}: `) !== undefined) return;
        seen.set(t.idempotencyKey, t.type);
      }
      fresh++;
    });
    runner.checkRoom(fresh);
    const ids = batch.tasks.map((t) => (existing(t, '') ?? runner.submit(t)).record.id);
    res.status(202).json({ ids });
  });

  r.get('/v1/tasks', (req, res) => {
    const query = parseInput(ListQuery, req.query, 'query');
    res.json({ tasks: store.list(query) });
  });

  /** `?wait=<ms>` holds the request until the task ends or the wait runs out; the record either way. */
  r.get('/v1/tasks/:id', (req, res) => {
    const entry = find(req.params.id);
    const { wait } = parseInput(WaitQuery, { wait: req.query.wait }, 'query');
    if (wait === undefined || wait === 0 || isFinal(entry)) return void res.json(entry.record);
    let done = false;
    const reply = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      res.json(entry.record);
    };
    const timer = setTimeout(reply, wait);
    const unsubscribe = runner.onFinal(entry, reply);
    res.on('close', () => {
      done = true;
      clearTimeout(timer);
      unsubscribe();
    });
  });

  r.delete('/v1/tasks/:id', (req, res) => {
    const entry = find(req.params.id);
    runner.cancel(entry);
    res.json(entry.record);
  });

  /** Optional JSON body `{timeoutMs?, maxAttempts?}` replaces the task's values for the new run. */
  r.post('/v1/tasks/:id/retry', (req, res) => {
    const entry = find(req.params.id);
    const hasBody = req.body !== undefined && !(typeof req.body === 'object' && req.body !== null && Object.keys(req.body).length === 0);
    const options = hasBody ? parseInput(RetryRequest, req.body, 'retry options') : {};
    runner.retry(entry, options);
    res.status(202).json({ id: entry.record.id, status: entry.record.status });
  });

  return r;
}
