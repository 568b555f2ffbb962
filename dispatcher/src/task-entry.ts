import { TaskIds } from './task-id.js';
import {
  JsonText,
  jsonWith,
  randomSpanId,
  type DispatchListener,
  type TaskRecord,
  type TraceStart,
  type WireError,
} from '@taskmesh/shared';

/** How a task ended, handed to whoever waits for it. */
export type TaskOutcome = { ok: true; value: unknown } | { ok: false; error: WireError };

/**
 * The dispatcher's working state for one task. `record` is the public TaskRecord, mutated in
 * place and served as is; everything else is bookkeeping the API never shows.
 */
export interface TaskEntry {
  readonly record: TaskRecord;
  /** Stream frames: not stored, no events; only metrics see them. */
  readonly ephemeral: boolean;
  /**
   * `record.attempts` when the task was last (re)submitted: the attempts it has spent since are
   * `record.attempts - attemptsBefore`, bounded by record.maxAttempts (numbers keep growing across
   * manual retries, so each attempt's number is unique).
   */
  attemptsBefore: number;
  /**
   * The highest attempt number sent to a worker, acknowledged or not. A manual retry numbers its
   * attempts after it, so a worker that remembers an earlier attempt runs the task again.
   */
  attemptSent: number;
  /** BUSY answers since the last counted attempt; drives the backoff of the next one. */
  busyRetries: number;
  /** Absolute time (ms) at which the task fails with TIMEOUT. */
  deadline: number;
  /** Monotonic submission time, for latency. */
  submittedAtHr: number;
  timer: NodeJS.Timeout | null;
  /**
   * The attempt in flight (an Attempt, seen here as the dispatch's listener, so this module does
   * not import attempt.ts, which imports it); null while the task is not at a worker.
   */
  current: DispatchListener | null;
  /** Whether the entry sits in the pending queue; `queueToken` tells a live slot from a stale one. */
  pending: boolean;
  queueToken: number;
  /** A worker that just lost the task: the next attempt prefers another one. */
  avoidWorker: string | null;
  /**
   * After a restart, the worker a recovered task was running at: its next attempt goes there if
   * that worker is live (it answers from what it has instead of running the task twice), and is a
   * redelivery (TaskMessage.redelivery).
   */
  holder: string | null;
  /** Its sequence number in the journal (submission order); 0 until first written. */
  journalSeq: number;
  /** Its payload is in the journal under its own key (large payloads are written once). */
  payloadStored: boolean;
  /** Its attempts (the newest MAX_TRACED_ATTEMPTS) and its timeline: GET /v1/tasks/:id/trace. */
  attemptTraces: AttemptTrace[];
  timeline: TimelineEvent[];
  /** Submitted with a sampled W3C traceparent: the task's spans (see task-spans.ts); else null. */
  trace: TaskTraceContext | null;
  /** Position in the store's finished queue; 0 while unfinished. */
  finishSeq: number;
  /** The payload's JSON bytes, and the result's once finished: what the store's byte bounds count. */
  readonly payloadBytes: number;
  resultBytes: number;
  /**
   * The payload's and the result's JSON, once rendered (admission renders the payload to measure
   * it, the end of the task its result): spliced into task messages, journal records and answers
   * instead of serialising the value again. null until known; see payloadTextOf / resultTextOf.
   */
  payloadText: string | null;
  resultText: string | null;
  /** What the store counts this finished entry as (0 while unfinished). */
  retainedCharge: number;
  /** With an idempotency key: the request it stands for (see requestFingerprint). */
  readonly fingerprint: string | null;
  /** Called once when the task reaches a final status. */
  waiters: Array<(entry: TaskEntry) => void> | null;
}

/** Where a traced task's spans hang: the caller's trace and span, and the task's own span. */
export interface TaskTraceContext {
  traceId: string;
  /** The caller's span; '' when the task started the trace. */
  parentSpanId: string;
  spanId: string;
  /** When the task was durably accepted (the 202); null until then. */
  acceptedAt: number | null;
}

/** One attempt of a task as its trace shows it. */
export interface AttemptTrace {
  attempt: number;
  worker: string;
  /** The workers the picker saw, and why this one won. */
  candidates: Array<{ name: string; loadRatio: number; heartbeatAgeMs: number; state: string; avoided: boolean; score: number }>;
  reason: string;
  sentAt: number;
  ackedAt: number | null;
  endedAt: number | null;
  /** Times the task message was sent again for this attempt. */
  retransmits: number;
  /** succeeded, BUSY, or CODE message: NO_ACK, WORKER_LOST (with why), TIMEOUT, CANCELLED, the handler's error. */
  outcome: string | null;
  /** A traced task's attempt: its span, the parent of the worker's handler span. */
  spanId?: string;
}

/** One step of a task's life, with when it happened. */
export interface TimelineEvent {
  at: number;
  event: string;
  detail?: string;
}

/** Attempts and timeline steps kept per task (the newest). */
export const MAX_TRACED_ATTEMPTS = 32;
export const MAX_TIMELINE_EVENTS = 64;

export interface NewTask {
  type: string;
  payload: unknown;
  timeoutMs?: number | undefined;
  maxAttempts?: number | undefined;
  idempotencyKey?: string | undefined;
  /** From admission: the payload's JSON bytes, and the JSON itself. */
  payloadBytes?: number;
  payloadText?: string;
  /** From admission, with an idempotency key: the request it stands for. */
  fingerprint?: string | undefined;
  /** The trace it is in, when it is traced (see traceDecision). */
  trace?: TraceStart | null | undefined;
}

const taskIds = new TaskIds();

/** A fresh, queued task with a new id. */
export function createTaskEntry(input: NewTask, defaults: { timeoutMs: number; maxAttempts: number }, ephemeral: boolean): TaskEntry {
  const now = Date.now();
  const timeoutMs = input.timeoutMs ?? defaults.timeoutMs;
  const record: TaskRecord = {
    id: taskIds.next(),
    type: input.type,
    status: 'queued',
    payload: input.payload,
    result: null,
    error: null,
    attempts: 0,
    maxAttempts: input.maxAttempts ?? defaults.maxAttempts,
    timeoutMs,
    worker: null,
    progress: null,
    idempotencyKey: input.idempotencyKey ?? null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
  };
  const entry = newTaskEntry(record, ephemeral, now + timeoutMs, input.payloadBytes ?? 0, input.fingerprint ?? null);
  entry.payloadText = input.payloadText ?? null;
  if (input.trace)
    entry.trace = { traceId: input.trace.traceId, parentSpanId: input.trace.parentSpanId, spanId: randomSpanId(), acceptedAt: null };
  return entry;
}

/** The attempts the task has spent since it was last (re)submitted. */
export const attemptsSpent = (entry: TaskEntry): number => entry.record.attempts - entry.attemptsBefore;

export function newTaskEntry(
  record: TaskRecord,
  ephemeral: boolean,
  deadline: number,
  payloadBytes = 0,
  fingerprint: string | null = null,
): TaskEntry {
  return {
    record,
    ephemeral,
    attemptsBefore: record.attempts,
    attemptSent: record.attempts,
    busyRetries: 0,
    deadline,
    submittedAtHr: performance.now(),
    timer: null,
    current: null,
    pending: false,
    queueToken: 0,
    avoidWorker: null,
    holder: null,
    journalSeq: 0,
    payloadStored: false,
    attemptTraces: [],
    timeline: [],
    trace: null,
    finishSeq: 0,
    payloadBytes,
    resultBytes: 0,
    payloadText: null,
    resultText: null,
    retainedCharge: 0,
    fingerprint,
    waiters: null,
  };
}

/**
 * JSON this long or longer is large: spliced as rendered into what carries it (task messages,
 * journal records, answers), and a payload this large is journaled under a key of its own. A
 * shorter value costs less serialised with what carries it than spliced.
 */
const LARGE_JSON_CHARS = 4096;

/** Whether a rendered value is large (see LARGE_JSON_CHARS); not rendered yet is not. */
export const isLargeJson = (text: string | null): text is string => text !== null && text.length >= LARGE_JSON_CHARS;

/** The payload's JSON (rendered now if it was not yet, and kept). */
export function payloadTextOf(entry: TaskEntry): string {
  return (entry.payloadText ??= JSON.stringify(entry.record.payload) ?? 'null');
}

/** The result's JSON (rendered now if it was not yet, and kept). */
export function resultTextOf(entry: TaskEntry): string {
  return (entry.resultText ??= JSON.stringify(entry.record.result) ?? 'null');
}

/**
 * What an answer carrying one task sends: its record, or with a large payload or result, the
 * record's JSON with their texts spliced in (the fields are the record's; their order is not).
 */
export function recordText(entry: TaskEntry): JsonText | TaskRecord {
  if (!isLargeJson(entry.payloadText) && !isLargeJson(entry.resultText)) return entry.record;
  const { payload: _payload, result: _result, ...rest } = entry.record;
  return new JsonText(
    jsonWith(rest, [
      ['payload', payloadTextOf(entry)],
      ['result', resultTextOf(entry)],
    ]),
  );
}

/** The outcome of a final entry, for waiters. */
export function outcomeOf(entry: TaskEntry): TaskOutcome {
  const { record } = entry;
  if (record.status === 'succeeded') return { ok: true, value: record.result };
  return { ok: false, error: record.error ?? { code: 'INTERNAL', message: `task ${record.status}` } };
}
