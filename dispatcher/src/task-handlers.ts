import { z } from 'zod';
import {
  MAX_BATCH_TASKS,
  SubmitBatchRequest,
  SubmitTaskRequest,
  TaskmeshError,
  parseOrThrow,
  isFinalStatus,
  type TraceStart,
} from '@taskmesh/shared';
import type { AdmissionGate } from './admission-gate.js';
import { admitPayload, requestFingerprint, type AdmissionLimits } from './admission.js';
import { recordText, type NewTask, type TaskEntry } from './task-entry.js';
import type { TaskRunner } from './task-runner.js';
import type { TaskStore } from './task-store.js';
import { entryOf, type TaskJournal } from './journal/task-journal.js';

/** The longest a `?wait=` may hold a request. */
export const MAX_WAIT_MS = 600_000;

const WaitQuery = z.object({ wait: z.coerce.number().int().min(0).max(MAX_WAIT_MS).optional() });

/** How a handler answers, whichever HTTP layer carries it (express or the fast lane). */
export interface Reply {
  /** Sends `body` as JSON with `status` (once). */
  json(status: number, body: unknown): void;
  /** Runs `fn` when the connection closes (after the answer, or before it if the client left). */
  onClose(fn: () => void): void;
}

/**
 * The logic of the busiest routes — POST /v1/tasks[?wait], POST /v1/tasks/batch and
 * GET /v1/tasks/:id[?wait] — apart from HTTP: inputs arrive unparsed (`unknown`), answers leave
 * through a Reply, and failures are thrown as TaskmeshError for the caller's error writer.
 */
export class TaskHandlers {
  constructor(
    private readonly runner: TaskRunner,
    private readonly store: TaskStore,
    private readonly gate: AdmissionGate,
    private readonly limits: AdmissionLimits,
    private readonly startTrace: (traceparent: string | undefined) => TraceStart | null,
    private readonly longPolls: LongPolls = new LongPolls(Number.POSITIVE_INFINITY),
    private readonly journal?: TaskJournal,
  ) {}

  /** The task, from memory or (finished and evicted from memory) from the journal; NOT_FOUND otherwise. */
  find(id: string): TaskEntry {
    const entry = this.store.get(id) ?? this.fromJournal(id);
    if (entry === undefined) throw new TaskmeshError('NOT_FOUND', `no task ${id} (unknown, or finished and past its retention)`);
    return entry;
  }

  private fromJournal(id: string): TaskEntry | undefined {
    const task = this.journal?.read(id);
    if (task === undefined || !isFinalStatus(task.record.status)) return undefined;
    // Back into memory as a finished task, so a retry or a cancel finds it there.
    const entry = entryOf(task);
    this.store.add(entry);
    this.store.markFinished(entry);
    return entry;
  }

  /** How an answer leaves: once what it tells of is in the journal (a 202 is a promise), else as it is. */
  private durable(reply: Reply): Reply {
    const journal = this.journal;
    if (journal === undefined) return reply;
    return {
      json: (status, body) =>
        journal.afterWrite((err) => {
          if (err === undefined) reply.json(status, body);
          else reply.json(503, { error: { code: 'UNAVAILABLE', message: `the task journal could not be written: ${err.message}` } });
        }),
      onClose: (fn) => reply.onClose(fn),
    };
  }

  /** A traced task's accept span ends when it is durable (at once without a journal). */
  private traced(entry: TaskEntry): TaskEntry {
    const trace = entry.trace;
    if (trace === null) return entry;
    if (this.journal === undefined) trace.acceptedAt = entry.record.createdAt;
    else this.journal.afterWrite(() => (trace.acceptedAt ??= Date.now()));
    return entry;
  }

  /** POST /v1/tasks[?wait=ms]. */
  submit(wait: unknown, body: unknown, given: Reply, traceparent?: string): void {
    const reply = this.durable(given);
    const query = parseOrThrow(WaitQuery, { wait }, 'query');
    const task = this.admit(parseOrThrow(SubmitTaskRequest, body, 'task'), '');
    const dup = this.existing(task, '');
    if (dup !== undefined) return this.answer(reply, dup, query.wait, 200);
    this.gate.checkRoom(1, task.payloadBytes);
    const trace = this.startTrace(traceparent);
    this.answer(reply, this.traced(this.runner.submit(trace === null ? task : { ...task, trace })), query.wait, 202);
  }

  /** POST /v1/tasks/batch: all validated first, all or none. */
  submitBatch(body: unknown, given: Reply, traceparent?: string): void {
    const reply = this.durable(given);
    const tasks = typeof body === 'object' && body !== null ? (body as { tasks?: unknown }).tasks : undefined;
    if (Array.isArray(tasks) && tasks.length > MAX_BATCH_TASKS) {
      throw new TaskmeshError(
        'PAYLOAD_TOO_LARGE',
        `batch of ${tasks.length} tasks: at most MAX_BATCH_TASKS=${MAX_BATCH_TASKS} per request`,
        {
          details: { limit: MAX_BATCH_TASKS },
        },
      );
    }
    // A full queue is answered before validating hundreds of tasks: clients retrying on 429 should cost little.
    // (Tasks with idempotency keys may need no room, so those batches take the full path.)
    if (Array.isArray(tasks) && !tasks.some((t) => typeof t === 'object' && t !== null && 'idempotencyKey' in t))
      this.gate.checkRoom(tasks.length);
    const batch = parseOrThrow(SubmitBatchRequest, body, 'batch');
    // Everything is checked before the first task is created: all or none.
    const admitted = batch.tasks.map((t, i) => this.admit(t, `tasks.${i}.`));
    const seen = new Map<string, string>();
    let fresh = 0;
    let bytes = 0;
    admitted.forEach((t, i) => {
      if (t.idempotencyKey !== undefined) {
        const earlier = seen.get(t.idempotencyKey);
        if (earlier !== undefined && earlier !== t.fingerprint) {
          throw new TaskmeshError(
            'IDEMPOTENCY_CONFLICT',
            `tasks.${i}: idempotencyKey "${t.idempotencyKey}" used twice in the batch for different requests`,
          );
        }
        if (earlier !== undefined || this.existing(t, `tasks.${i}: `) !== undefined) return;
        seen.set(t.idempotencyKey, t.fingerprint!);
      }
      fresh++;
      bytes += t.payloadBytes;
    });
    this.gate.checkRoom(fresh, bytes);
    const trace = this.startTrace(traceparent);
    const ids = admitted.map(
      (t) => (this.existing(t, '') ?? this.traced(this.runner.submit(trace === null ? t : { ...t, trace }))).record.id,
    );
    reply.json(202, { ids });
  }

  /** GET /v1/tasks/:id[?wait=ms]: the record, once final or when the wait runs out. */
  get(id: string, wait: unknown, reply: Reply): void {
    const entry = this.find(id);
    const query = parseOrThrow(WaitQuery, { wait }, 'query');
    if (query.wait === undefined || query.wait === 0 || isFinalStatus(entry.record.status)) return reply.json(200, recordText(entry));
    this.hold(reply, entry, query.wait, () => reply.json(200, recordText(entry)));
  }

  /** Answers now, or once the task ends within `waitMs` (200 with the record), else 202. */
  private answer(reply: Reply, entry: TaskEntry, waitMs: number | undefined, status: 200 | 202): void {
    const brief = (code: number): void => reply.json(code, { id: entry.record.id, status: entry.record.status });
    if (waitMs === undefined) return brief(status);
    if (isFinalStatus(entry.record.status)) return reply.json(200, recordText(entry));
    if (waitMs === 0) return brief(status);
    // Past the cap the task is still accepted: the client is answered at once, as without ?wait.
    if (!this.longPolls.hasRoom()) return brief(status);
    this.hold(reply, entry, waitMs, () => brief(202));
  }

  /**
   * Holds a request (one long-poll place) until the task is final — answered with its record — or
   * `waitMs` passes — answered by `onTimeout`; a client that leaves first frees everything.
   */
  private hold(reply: Reply, entry: TaskEntry, waitMs: number, onTimeout: () => void): void {
    const release = this.longPolls.enter();
    let done = false;
    const end = (): boolean => {
      if (done) return false;
      done = true;
      release();
      clearTimeout(timer);
      unsubscribe();
      return true;
    };
    const timer = setTimeout(() => end() && onTimeout(), waitMs);
    const unsubscribe = this.runner.onFinal(entry, (e) => end() && reply.json(200, recordText(e)));
    reply.onClose(end);
  }

  /** Type, payload limits and schema; the request's fingerprint when it carries an idempotency key. */
  private admit<T extends NewTask>(
    task: T,
    where: string,
  ): T & { payloadBytes: number; payloadText: string; fingerprint: string | undefined } {
    this.gate.checkType(task.type, `${where}type`);
    const { payloadBytes, payloadText } = admitPayload(task.type, task.payload, this.limits, where);
    this.gate.checkPayload(task.type, task.payload, where);
    const fingerprint = task.idempotencyKey === undefined ? undefined : requestFingerprint(task.type, task.payload);
    // The task is the parser's fresh output, ours to extend (no copy per task on the hot path).
    return Object.assign(task, { payloadBytes, payloadText, fingerprint });
  }

  /** The task an idempotency key already stands for; IDEMPOTENCY_CONFLICT if it was another request. */
  private existing(task: NewTask, where: string): TaskEntry | undefined {
    if (task.idempotencyKey === undefined) return undefined;
    const known = this.store.byIdempotencyKey(task.idempotencyKey);
    const journaled = known === undefined ? this.journal?.idOfKey(task.idempotencyKey) : undefined;
    const entry = known ?? (journaled === undefined ? undefined : (this.store.get(journaled) ?? this.fromJournal(journaled)));
    if (entry !== undefined && entry.fingerprint !== (task.fingerprint ?? null)) {
      throw new TaskmeshError(
        'IDEMPOTENCY_CONFLICT',
        `${where}idempotencyKey "${task.idempotencyKey}" was used for another request (task ${entry.record.id}, type ${entry.record.type}); only the same type and payload get the stored task`,
      );
    }
    return entry;
  }
}

/**
 * Requests held open by `?wait=` (TASKMESH_MAX_LONG_POLLS): each holds a socket and a timer, so
 * their number is bounded. Past it a GET with `?wait` is 503 TOO_MANY_LONG_POLLS; a submit with
 * `?wait` is still accepted and answered at once, as without it.
 */
export class LongPolls {
  private held = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.held;
  }

  hasRoom(): boolean {
    return this.held < this.limit;
  }

  /** Takes a place (TOO_MANY_LONG_POLLS when none is left) and returns its release. */
  enter(): () => void {
    if (this.held >= this.limit) {
      throw new TaskmeshError(
        'TOO_MANY_LONG_POLLS',
        `${this.held} requests already wait for tasks (TASKMESH_MAX_LONG_POLLS=${this.limit}); retry, or wait with the events WebSocket`,
        {
          details: { limit: 'TASKMESH_MAX_LONG_POLLS', max: this.limit },
        },
      );
    }
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
    };
  }
}
