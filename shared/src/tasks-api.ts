import { z } from 'zod';
import { TaskType, WireError } from './protocol.js';

/** The dispatcher's HTTP API: task submission, the task record and pushed events. */
export const MAX_BATCH_TASKS = 1000;

export const TaskStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type TaskStatus = z.infer<typeof TaskStatus>;
export type FinalStatus = 'succeeded' | 'failed' | 'cancelled';
export const isFinalStatus = (status: TaskStatus): status is FinalStatus =>
  status === 'succeeded' || status === 'failed' || status === 'cancelled';

/**
 * What a search for tasks filters on: one shape for GET /v1/tasks (its query parameters), a bulk
 * action's body, the CLI's list, retry and cancel options and the dashboard's Find panel.
 */
export const TaskFilter = z.strictObject({
  status: TaskStatus.optional(),
  type: z.string().min(1).max(32).optional(),
  /** A task id or its beginning. */
  id: z
    .string()
    .regex(/^[0-9a-f-]{1,36}$/, 'a task id or its beginning')
    .optional(),
  /** The worker it ran (last) at. */
  worker: z.string().min(1).max(64).optional(),
  /** createdAt bounds, ms since the epoch. */
  since: z.number().int().min(0).optional(),
  until: z.number().int().min(0).optional(),
});
export type TaskFilter = z.infer<typeof TaskFilter>;
/** The filter's fields: the query parameters GET /v1/tasks filters with. */
export const TASK_FILTER_FIELDS = TaskFilter.keyof().options;

/** POST /v1/tasks body; also each element of a batch. */
export const SubmitTaskRequest = z.strictObject({
  type: TaskType,
  payload: z.unknown().default({}),
  timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
});
export type SubmitTaskRequest = z.input<typeof SubmitTaskRequest>;

/** POST /v1/tasks/batch body */
export const SubmitBatchRequest = z.strictObject({
  tasks: z.array(SubmitTaskRequest).min(1).max(MAX_BATCH_TASKS),
});

export const SubmitTaskResponse = z.object({ id: z.string(), status: TaskStatus });
export const SubmitBatchResponse = z.object({ ids: z.array(z.string()) });

/** GET /v1/tasks/:id */
export const TaskRecord = z.object({
  id: z.string(),
  type: TaskType,
  status: TaskStatus,
  payload: z.unknown(),
  result: z.unknown().nullable(),
  error: WireError.nullable(),
  attempts: z.number().int().min(0),
  maxAttempts: z.number().int().min(1),
  timeoutMs: z.number().int(),
  worker: z.string().nullable(),
  progress: z.number().min(0).max(1).nullable(),
  idempotencyKey: z.string().nullable(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/**
 * One task of GET /v1/tasks: the record without payload and result (their sizes instead), unless
 * the list was asked for with `full=1`.
 */
export const TaskListItem = TaskRecord.extend({
  payload: z.unknown().optional(),
  result: z.unknown().optional(),
  payloadBytes: z.number().int().min(0).optional(),
  resultBytes: z.number().int().min(0).optional(),
});
export type TaskListItem = z.infer<typeof TaskListItem>;

export const TaskListResponse = z.object({
  tasks: z.array(TaskListItem),
  /** Pass as `cursor=` for the next page; null at the end. */
  nextCursor: z.string().nullable().optional(),
});

export const TaskEventKind = z.enum(['submitted', 'dispatched', 'progress', 'retrying', 'succeeded', 'failed', 'cancelled']);
export type TaskEventKind = z.infer<typeof TaskEventKind>;

/**
 * The response header of a /v1/events upgrade: the seq of the last event before the subscription
 * began. A client that has seen no event yet when its connection drops resumes with `since=` it.
 */
export const EVENTS_SEQ_HEADER = 'x-taskmesh-events-seq';
/** EVENTS_SEQ_HEADER's value from an upgrade answer's headers, or undefined (absent or not a seq). */
export function eventsStartSeq(headers: Record<string, string | string[] | undefined>): number | undefined {
  const value = Number(headers[EVENTS_SEQ_HEADER]);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
/** The /v1/events close code of a subscriber closed for reading too slowly (the reason says `since=` to resume with). */
export const SLOW_SUBSCRIBER_CLOSE_CODE = 4008;
/** The close code of a subscriber whose `since` is older than the log: read task state, then resume as the reason says. */
export const SINCE_TOO_OLD_CLOSE_CODE = 4009;

/** One message on the /v1/events WebSocket. */
export const TaskEvent = z.object({
  /** Grows by one per event, across dispatcher restarts too: `/v1/events?since=<seq>` resumes after it. */
  seq: z.number().int().min(1),
  event: TaskEventKind,
  taskId: z.string(),
  type: TaskType,
  status: TaskStatus,
  at: z.number(),
  attempt: z.number().int().min(0),
  worker: z.string().nullable(),
  progress: z.number().min(0).max(1).nullable(),
  error: WireError.nullable(),
  /** Milliseconds from submission to the end, on final events. */
  latencyMs: z.number().nullable(),
});
export type TaskEvent = z.infer<typeof TaskEvent>;

/** GET /v1/types: the task types the dispatcher accepts, with what each does when it knows. */
export const TypeListResponse = z.object({
  types: z.array(
    z.object({
      name: TaskType,
      description: z.string().nullable(),
      /** Built into taskmesh, or registered by a worker with its contract. */
      builtin: z.boolean().optional(),
      /** A registered type's payload schema (JSON Schema) and its contract's fingerprint. */
      payloadSchema: z.unknown().optional(),
      fingerprint: z.string().nullable().optional(),
      /** Live workers of the type and their summed load. */
      workers: z.number().int().min(0).optional(),
      load: z.object({ queued: z.number(), inFlight: z.number(), capacity: z.number() }).optional(),
    }),
  ),
});
export type TypeListResponse = z.infer<typeof TypeListResponse>;

/** The JSON body of every 4xx/5xx answer. */
export const ErrorResponse = z.object({ error: WireError.extend({ details: z.unknown().optional() }) });
