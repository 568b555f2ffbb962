import { TRACEPARENT_PATTERN } from './tracing/traceparent.js';
import { z } from 'zod';

/**
 * The messages exchanged over UDP between a caller (the dispatcher) and a worker. One
 * definition: the schemas are the source of truth and the TypeScript types are inferred.
 * Each datagram carries a JSON array of these messages (see transport/frame.ts).
 */
export const PROTOCOL_VERSION = 2;

/** Most task ids one `result-ack` carries; the caller also keeps it within one datagram. */
export const MAX_RESULT_ACK_IDS = 1024;

export const TaskId = z.string().min(1).max(128);
export const TaskType = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case type name');

/** How loaded a worker is; carried in acknowledgements and heartbeats. */
export const LoadReport = z.object({
  /** Tasks waiting in the worker's queue. */
  queued: z.number().int().min(0),
  /** Tasks being executed now. */
  inFlight: z.number().int().min(0),
  /** The most tasks the worker holds at once (concurrency + queue size). */
  capacity: z.number().int().min(1),
});
export type LoadReport = z.infer<typeof LoadReport>;

/** Load as a ratio: 0 idle, 1 full. */
export const loadRatio = (load: LoadReport): number => (load.queued + load.inFlight) / load.capacity;

export const WireError = z.object({
  code: z.string().min(1).max(64),
  message: z.string().max(4096),
  /** A handler's TaskError that may succeed when tried again. */
  retryable: z.boolean().optional(),
});
export type WireError = z.infer<typeof WireError>;

const v = z.literal(PROTOCOL_VERSION);

/** Caller → worker: run this task. Retransmitted until acknowledged. */
export const TaskMessage = z.object({
  v,
  kind: z.literal('task'),
  taskId: TaskId,
  type: TaskType,
  payload: z.unknown(),
  attempt: z.number().int().min(1),
  /** How long the caller will wait for the result, from receipt. */
  timeoutMs: z.number().int().min(1),
  /** The caller's identity, kept across its restarts (a dispatcher's, from its journal). */
  origin: z.string().max(64).optional(),
  /**
   * The caller lost track of an earlier attempt (it restarted): a worker that knows the task
   * answers from what it has (running, or its result, even a failure) instead of running it again.
   */
  redelivery: z.literal(true).optional(),
  /** W3C traceparent of the attempt's span: the worker's handler span is its child. */
  traceparent: z.string().regex(TRACEPARENT_PATTERN).optional(),
});

/** Worker → caller: the task was taken, or the worker is full (BUSY), or it cannot run it. */
export const AckMessage = z.object({
  v,
  kind: z.literal('ack'),
  taskId: TaskId,
  status: z.enum(['accepted', 'busy', 'rejected']),
  load: LoadReport,
  error: WireError.optional(),
});

/** Worker → caller: progress of a running task; also sent as a keep-alive while it runs. */
export const ProgressMessage = z.object({
  v,
  kind: z.literal('progress'),
  taskId: TaskId,
  /** 0..1, or null while the task is queued or gives no figure. */
  progress: z.number().min(0).max(1).nullable(),
  state: z.enum(['queued', 'running']),
});

export const ResultOutcome = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: WireError }),
]);
export type ResultOutcome = z.infer<typeof ResultOutcome>;

/** Worker → caller: the task ended. Retransmitted until the caller sends `result-ack`. */
export const ResultMessage = z.object({
  v,
  kind: z.literal('result'),
  taskId: TaskId,
  outcome: ResultOutcome,
  /** Name of the worker that ran it. */
  worker: z.string().max(256),
  durationMs: z.number().min(0),
});

/**
 * Caller → worker: these results arrived. Cumulative: the results a caller receives from one
 * worker in one event-loop turn are acknowledged by one message.
 */
export const ResultAckMessage = z.object({ v, kind: z.literal('result-ack'), taskIds: z.array(TaskId).min(1).max(MAX_RESULT_ACK_IDS) });

/** Caller → worker: stop this task. Answered with `cancel-ack`; retransmitted until then. */
export const CancelMessage = z.object({ v, kind: z.literal('cancel'), taskId: TaskId });
export const CancelAckMessage = z.object({
  v,
  kind: z.literal('cancel-ack'),
  taskId: TaskId,
  /** Whether the worker knew the task (queued, running or recently finished). */
  found: z.boolean(),
});

export const Message = z.discriminatedUnion('kind', [
  TaskMessage,
  AckMessage,
  ProgressMessage,
  ResultMessage,
  ResultAckMessage,
  CancelMessage,
  CancelAckMessage,
]);

export type Message = z.infer<typeof Message>;
export type MessageKind = Message['kind'];
export type TaskMessage = z.infer<typeof TaskMessage>;
export type AckMessage = z.infer<typeof AckMessage>;
export type ProgressMessage = z.infer<typeof ProgressMessage>;
export type ResultMessage = z.infer<typeof ResultMessage>;
export type ResultAckMessage = z.infer<typeof ResultAckMessage>;
export type CancelMessage = z.infer<typeof CancelMessage>;
export type CancelAckMessage = z.infer<typeof CancelAckMessage>;

/** A message without its version field, as code builds it before sending. */
export type Outgoing<M extends Message = Message> = M extends Message ? Omit<M, 'v'> : never;

export type ParseResult = { ok: true; message: Message } | { ok: false; reason: 'version' | 'schema'; detail: string };

/** Parses one decoded message: the version is checked first, with its own reason. */
export function parseMessage(input: unknown): ParseResult {
  if (typeof input !== 'object' || input === null || !('v' in input)) {
    return { ok: false, reason: 'schema', detail: 'not a message object with a version' };
  }
  const version: unknown = input.v;
  if (version !== PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: 'version',
      detail: `protocol version ${JSON.stringify(version) ?? 'undefined'}, expected ${PROTOCOL_VERSION}`,
    };
  }
  const parsed = Message.safeParse(input);
  if (!parsed.success) return { ok: false, reason: 'schema', detail: z.prettifyError(parsed.error) };
  return { ok: true, message: parsed.data };
}
