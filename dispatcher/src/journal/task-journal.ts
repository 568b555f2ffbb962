import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { TaskRecord, isFinalStatus, jsonWith, silentLogger, textOrBytes, type Logger, type TaskStatus } from '@taskmesh/shared';
import {
  isLargeJson,
  newTaskEntry,
  payloadTextOf,
  resultTextOf,
  type AttemptTrace,
  type TaskEntry,
  type TaskTraceContext,
  type TimelineEvent,
} from '../task-entry.js';
import { LevelStore, type StoreDamage } from './level-store.js';
import type { JournalSync, KeyValueStore } from './store.js';

/** A task as the journal keeps it: its record and the bookkeeping a restart needs. */
export interface JournaledTask {
  record: TaskRecord;
  /** Submission order, unique per journal. */
  seq: number;
  payloadBytes: number;
  resultBytes: number;
  fingerprint: string | null;
  attemptsBefore: number;
  /** Its trace: attempts and timeline (absent in records written before traces existed). */
  attemptTraces: AttemptTrace[];
  timeline: TimelineEvent[];
  /** A traced task's trace and span ids (its trace page shows the trace id). */
  trace: TaskTraceContext | null;
  /** Its payload is kept under its own key (large payloads): read with the record, not part of it. */
  payloadKept: boolean;
}

const Stored = z.object({
  // Without payload and result (beside it, as p and o), or with them (records written before).
  r: TaskRecord.partial({ payload: true, result: true }),
  s: z.number().int().min(1),
  pb: z.number().int().min(0),
  rb: z.number().int().min(0),
  f: z.string().nullable(),
  ab: z.number().int().min(0),
  // Traces are stored as arrays (tuples): shorter JSON, and cheaper to write, than objects.
  tr: z.array(z.array(z.unknown())).optional(),
  tl: z.array(z.tuple([z.number(), z.string()]).rest(z.string())).optional(),
  tc: z.tuple([z.string(), z.string(), z.string()]).optional(),
  // The payload and result, beside the record (records written before that hold them in `r`).
  p: z.unknown().optional(),
  o: z.unknown().optional(),
  // 1: the payload is under PAYLOAD + id, not here.
  pk: z.literal(1).optional(),
});

/** What a start found in the journal. */
export interface JournalReport {
  path: string;
  sync: JournalSync;
  /** Tasks recovered, by status. */
  recovered: Partial<Record<TaskStatus, number>>;
  /** Records that could not be read: counted, moved to `movedTo`, and why (the first few reasons). */
  corrupt: { count: number; reasons: string[]; movedTo: string | null };
  /** Damage found by the store at open: the whole store moved aside (a fresh one started), or log tails dropped (copied aside). */
  damage: StoreDamage | null;
}

export interface TaskJournalOptions {
  /** Finished tasks older than this (since they finished) are deleted. */
  retentionMs: number;
  /** Finished tasks are deleted, oldest first, while their records (as written, keys included) weigh more than this. */
  retentionBytes: number;
  /** Finished tasks are deleted, oldest first, while there are more of them than this. */
  retentionRecords?: number;
  /** Whether a task is unfinished in memory (the sweep never deletes those). */
  isLive?: (id: string) => boolean;
  logger?: Logger;
  now?: () => number;
}

export interface JournalListQuery {
  status?: TaskStatus | undefined;
  /** Only tasks whose id starts with this (ids sort in submission order, so this is a key range). */
  idPrefix?: string | undefined;
  /** Only tasks that ran (last) at this worker. */
  worker?: string | undefined;
  type?: string | undefined;
  /** createdAt bounds, ms since the epoch. */
  since?: number | undefined;
  until?: number | undefined;
  /** Only tasks submitted before this one (a page's cursor: task ids sort in submission order). */
  before?: string | undefined;
  limit: number;
  /** Stop the page once the records in it weigh this much (default LIST_PAGE_BYTES). */
  maxBytes?: number;
  /** Stop the page once this many records were read for it (default, and at most, MAX_LIST_SCAN). */
  maxScan?: number;
}

/** A page of a listing: its tasks, where the next page begins (null at the end), how many records were read for it. */
export interface JournalPage {
  tasks: Array<{ record: TaskRecord; payloadBytes: number; resultBytes: number }>;
  nextCursor: string | null;
  scanned: number;
}

// Task ids sort in submission order (UUIDv7, see task-id.ts): the tasks' keys are their order.
const TASK = 't:';
const TASKS_END = 't;';
const KEY = 'k:';
const META = 'm:';
/** A large payload, written once under its own key: its task's later writes leave it out. */
const PAYLOAD = 'p:';
const PAYLOADS_END = 'p;';
const SWEEP_INTERVAL_MS = 5000;
/** Entries the sweep looks at per step before yielding the event loop. */
const SWEEP_STEP = 2000;
/** A list page looks at most at this many tasks; past it, it ends early with a cursor. */
const MAX_LIST_SCAN = 20_000;
/** A list page holds at most this many bytes of records; past it, it ends early with a cursor. */
const LIST_PAGE_BYTES = 4 * 1024 * 1024;
const MAX_REPORTED_REASONS = 5;

/**
 * The dispatcher's task journal: every accepted task and each change of its state, written in
 * batches (one per event-loop turn, group-committed) to a KeyValueStore. It is the truth a restart
 * recovers from; memory (TaskStore) is its cache. `afterWrite` tells when what was queued is as
 * durable as the sync policy promises: the HTTP handlers answer 202 only then.
 */
export class TaskJournal {
  private readonly queued = new Map<string, TaskEntry>();
  private readonly other = new Map<string, string | null>();
  private waiting: Array<(err: Error | undefined) => void> = [];
  private scheduled = false;
  private writing = false;
  private nextSeq = 1;
  /** Bytes of finished tasks' records as written (key, value and idempotency key): what retention bounds. */
  private finishedBytes = 0;
  /** Finished tasks in the journal. */
  private finishedRecords = 0;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly sweepTimer: NodeJS.Timeout;
  private sweeping = false;
  private closed = false;
  /** Counters for /metrics and /healthz. */
  readonly counters = { batches: 0, writes: 0, failures: 0, deleted: 0 };

  private constructor(
    private readonly store: KeyValueStore,
    readonly report: JournalReport,
    private readonly options: TaskJournalOptions,
  ) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /**
   * Opens the journal at `path` and reads back the unfinished tasks in it, in submission order.
   * The records are streamed: finished ones are counted (for retention) and left on disk, where
   * reads find them, so a start needs memory for the live tasks, not for everything retained.
   */
  static async open(
    path: string,
    sync: Exclude<JournalSync, 'none'>,
    options: TaskJournalOptions,
  ): Promise<{ journal: TaskJournal; tasks: JournaledTask[]; meta: Map<string, string> }> {
    const { store, damage } = await LevelStore.open(path, sync);
    const report: JournalReport = { path, sync, recovered: {}, corrupt: { count: 0, reasons: [], movedTo: null }, damage };
    const tasks: JournaledTask[] = [];
    const meta = new Map<string, string>();
    const damaged = new Map<string, string | null>();
    const corrupt = (key: string, value: string, reason: string): void => {
      report.corrupt.count++;
      if (report.corrupt.reasons.length < MAX_REPORTED_REASONS) report.corrupt.reasons.push(`${key.slice(0, 60)}: ${reason}`);
      report.corrupt.movedTo = `${path}.corrupt-records.jsonl`;
      appendFileSync(report.corrupt.movedTo, `${JSON.stringify({ key, value, reason, at: new Date().toISOString() })}\n`);
      damaged.set(key, null);
    };
    let finishedBytes = 0;
    let finishedRecords = 0;
    let lastSeq = 0;
    // Payloads are read for the live tasks only, not streamed with the records.
    const ranges = [store.range({ lt: PAYLOAD }), store.range({ gt: PAYLOADS_END })];
    for await (const { key, value } of concatRanges(ranges)) {
      if (key.startsWith(META)) meta.set(key.slice(META.length), value);
      else if (key.startsWith(TASK)) {
        const task = parseStored(value);
        if (typeof task === 'string') corrupt(key, value, task);
        else if (task.record.id !== key.slice(TASK.length)) corrupt(key, value, `holds task ${task.record.id}`);
        else {
          const status = task.record.status;
          report.recovered[status] = (report.recovered[status] ?? 0) + 1;
          lastSeq = Math.max(lastSeq, task.seq);
          if (isFinalStatus(status)) {
            finishedBytes += recordCharge(key, Buffer.byteLength(value), task.record.idempotencyKey, keptBytes(task));
            finishedRecords++;
          } else tasks.push(task);
        }
      } else if (!key.startsWith(KEY)) corrupt(key, value, 'unknown key');
    }
    tasks.sort((a, b) => a.seq - b.seq);
    if (damaged.size > 0) await store.write(damaged);
    const journal = new TaskJournal(store, report, options);
    for (const task of tasks) journal.withPayload(task);
    journal.finishedBytes = finishedBytes;
    journal.finishedRecords = finishedRecords;
    journal.nextSeq = lastSeq + 1;
    return { journal, tasks, meta };
  }

  /** What retention bounds now: finished tasks' records, their bytes as written and their count. */
  get retained(): { bytes: number; records: number } {
    return { bytes: this.finishedBytes, records: this.finishedRecords };
  }

  get sync(): JournalSync {
    return this.store.sync;
  }

  /** Writes not yet acknowledged by the store. */
  get backlog(): number {
    return this.queued.size + this.other.size;
  }

  /** Queues a write of the task's state as it will be at the end of this turn. */
  save(entry: TaskEntry): void {
    if (entry.ephemeral || this.closed) return;
    if (entry.journalSeq === 0) {
      entry.journalSeq = this.nextSeq++;
      const key = entry.record.idempotencyKey;
      if (key !== null) this.other.set(`${KEY}${key}`, entry.record.id);
    }
    this.queued.set(entry.record.id, entry);
    this.schedule();
  }

  /** Queues a metadata value (identity, sequence reservations). */
  setMeta(name: string, value: string): void {
    this.other.set(`${META}${name}`, value);
    this.schedule();
  }

  /** Calls `fn` once everything queued so far is written (with the error if the write failed). */
  afterWrite(fn: (err: Error | undefined) => void): void {
    this.waiting.push(fn);
    this.schedule();
  }

  /** A task as last written (tasks evicted from memory are served from here). */
  read(id: string): JournaledTask | undefined {
    const value = this.store.get(`${TASK}${id}`);
    if (value === undefined) return undefined;
    const task = parseStored(value);
    return typeof task === 'string' ? undefined : this.withPayload(task);
  }

  /** A kept payload read back into its task's record. */
  private withPayload(task: JournaledTask): JournaledTask {
    if (!task.payloadKept) return task;
    const text = this.store.get(`${PAYLOAD}${task.record.id}`);
    if (text === undefined) {
      this.logger.warn('journal: a task has lost its payload record', { taskId: task.record.id });
      return task;
    }
    task.record.payload = JSON.parse(text) as unknown;
    return task;
  }

  /** The id an idempotency key was first used for. */
  idOfKey(key: string): string | undefined {
    return this.store.get(`${KEY}${key}`);
  }

  /**
   * Tasks newest first, filtered; `fresh` gives the in-memory state of a task when it has one
   * (it may be a turn ahead of the journal). `nextCursor` continues the list, or is null at its end.
   */
  async list(query: JournalListQuery, fresh: (id: string) => TaskEntry | undefined): Promise<JournalPage> {
    const out: JournalPage['tasks'] = [];
    const maxBytes = query.maxBytes ?? LIST_PAGE_BYTES;
    const maxScan = Math.min(query.maxScan ?? MAX_LIST_SCAN, MAX_LIST_SCAN);
    let bytes = 0;
    let scanned = 0;
    let previous: string | null = null;
    const prefixed = `${TASK}${query.idPrefix ?? ''}`;
    const prefixEnd = query.idPrefix === undefined ? TASKS_END : `${prefixed}~`;
    const before = query.before === undefined ? TASKS_END : `${TASK}${query.before}`;
    const range = { reverse: true, gt: prefixed, lt: before < prefixEnd ? before : prefixEnd };
    for await (const { key, value } of this.store.range(range)) {
      const id = key.slice(TASK.length);
      if (++scanned > maxScan || out.length >= query.limit || bytes >= maxBytes)
        return { tasks: out, nextCursor: previous, scanned: scanned - 1 };
      previous = id;
      const entry = fresh(id);
      const stored = entry === undefined ? parseStored(value) : undefined;
      const task =
        entry !== undefined
          ? { record: entry.record, payloadBytes: entry.payloadBytes, resultBytes: entry.resultBytes }
          : typeof stored === 'object'
            ? stored
            : undefined;
      if (task === undefined) continue;
      const { record } = task;
      if (query.since !== undefined && record.createdAt < query.since) return { tasks: out, nextCursor: null, scanned };
      if (query.until !== undefined && record.createdAt > query.until) continue;
      if (query.status !== undefined && record.status !== query.status) continue;
      if (query.type !== undefined && record.type !== query.type) continue;
      if (query.worker !== undefined && record.worker !== query.worker) continue;
      // What the page holds: the record as stored, or as memory holds it (a turn ahead of it).
      bytes += entry === undefined ? value.length : task.payloadBytes + task.resultBytes + value.length;
      out.push(task);
    }
    return { tasks: out, nextCursor: null, scanned };
  }

  /** Writes what is queued, then closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.sweepTimer);
    await new Promise<void>((resolve) => this.afterWrite(() => resolve()));
    this.closed = true;
    while (this.sweeping) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.store.close();
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.writing) return;
    const waiting = this.waiting;
    this.waiting = [];
    const batch = new Map<string, string | Buffer | null>(this.other);
    this.other.clear();
    for (const [id, entry] of this.queued) {
      const payloadKept = isLargeJson(payloadTextOf(entry));
      // A large payload is written once, beside the task's first record, in the same batch.
      if (payloadKept && !entry.payloadStored) {
        batch.set(`${PAYLOAD}${id}`, textOrBytes([payloadTextOf(entry)]));
        entry.payloadStored = true;
      }
      const value = textOrBytes(serialise(entry, payloadKept));
      const key = `${TASK}${id}`;
      batch.set(key, value);
      if (isFinalStatus(entry.record.status)) {
        const bytes = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
        this.finishedBytes += recordCharge(key, bytes, entry.record.idempotencyKey, payloadKept ? entry.payloadBytes : null);
        this.finishedRecords++;
      }
    }
    this.queued.clear();
    if (batch.size === 0) {
      for (const fn of waiting) fn(undefined);
      return;
    }
    this.writing = true;
    this.store.write(batch).then(
      () => this.written(waiting, batch.size, undefined),
      (err: unknown) => this.written(waiting, batch.size, err instanceof Error ? err : new Error(String(err))),
    );
  };

  private written(waiting: Array<(err: Error | undefined) => void>, writes: number, err: Error | undefined): void {
    this.writing = false;
    this.counters.batches++;
    this.counters.writes += writes;
    if (err !== undefined) {
      this.counters.failures++;
      this.logger.error('journal write failed', { error: err.message, writes });
    }
    for (const fn of waiting) {
      try {
        fn(err);
      } catch (callbackErr) {
        this.logger.warn('journal callback failed', { error: callbackErr instanceof Error ? callbackErr.message : String(callbackErr) });
      }
    }
    if (this.queued.size > 0 || this.other.size > 0 || this.waiting.length > 0) this.schedule();
  }

  /**
   * Deletes finished tasks past their retention (age, then bytes, oldest first), a step at a time
   * so the event loop keeps serving; unfinished tasks are never deleted.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      const cutoff = this.now() - this.options.retentionMs;
      let from = TASK;
      for (;;) {
        const deletions = new Map<string, string | null>();
        let seen = 0;
        let reachedFresh = false;
        for await (const { key, value } of this.store.range({ gt: from, lt: TASKS_END, limit: SWEEP_STEP })) {
          seen++;
          from = key;
          const id = key.slice(TASK.length);
          const task = parseStored(value);
          if (typeof task === 'string') continue;
          const { record } = task;
          const over =
            this.finishedBytes > this.options.retentionBytes ||
            this.finishedRecords > (this.options.retentionRecords ?? Number.POSITIVE_INFINITY);
          if (record.createdAt >= cutoff && !over) {
            reachedFresh = true;
            break;
          }
          if (!isFinalStatus(record.status) || this.queued.has(id) || this.options.isLive?.(id) === true) continue;
          if (!over && (record.finishedAt ?? 0) >= cutoff) continue;
          deletions.set(key, null);
          if (record.idempotencyKey !== null) deletions.set(`${KEY}${record.idempotencyKey}`, null);
          if (task.payloadKept) deletions.set(`${PAYLOAD}${id}`, null);
          this.finishedBytes = Math.max(
            0,
            this.finishedBytes - recordCharge(key, Buffer.byteLength(value), record.idempotencyKey, keptBytes(task)),
          );
          this.finishedRecords = Math.max(0, this.finishedRecords - 1);
          this.counters.deleted++;
        }
        if (deletions.size > 0 && !this.closed) await this.store.write(deletions);
        if (reachedFresh || seen < SWEEP_STEP || this.closed) return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.logger.warn('journal sweep failed', { error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.sweeping = false;
    }
  }
}

async function* concatRanges<T>(ranges: AsyncIterable<T>[]): AsyncGenerator<T> {
  for (const range of ranges) yield* range;
}

/**
 * What a finished task's records weigh in the journal: its key and value as written, its
 * idempotency key's record (key and the task id it names) and its kept payload's, in UTF-8 bytes.
 */
function recordCharge(key: string, valueBytes: number, idempotencyKey: string | null, keptPayloadBytes: number | null): number {
  const idBytes = key.length - TASK.length;
  const keyRecord = idempotencyKey === null ? 0 : KEY.length + Buffer.byteLength(idempotencyKey) + idBytes;
  const payloadRecord = keptPayloadBytes === null ? 0 : PAYLOAD.length + idBytes + keptPayloadBytes;
  return key.length + valueBytes + keyRecord + payloadRecord;
}

const keptBytes = (task: JournaledTask): number | null => (task.payloadKept ? task.payloadBytes : null);

/** The working state of a task read back from the journal. */
export function entryOf(task: JournaledTask): TaskEntry {
  const { record } = task;
  const entry = newTaskEntry(record, false, record.createdAt + record.timeoutMs, task.payloadBytes, task.fingerprint);
  entry.resultBytes = task.resultBytes;
  entry.attemptsBefore = task.attemptsBefore;
  entry.journalSeq = task.seq;
  entry.payloadStored = task.payloadKept;
  entry.attemptTraces = task.attemptTraces;
  entry.timeline = task.timeline;
  entry.trace = task.trace;
  return entry;
}

type PackedCandidate = [string, number, number, string, 0 | 1];

function packAttempt(a: AttemptTrace): unknown[] {
  const candidates: PackedCandidate[] = a.candidates.map((c) => [
    c.name,
    Math.round(c.loadRatio * 1000) / 1000,
    c.heartbeatAgeMs,
    c.state,
    c.avoided ? 1 : 0,
  ]);
  return [a.attempt, a.worker, a.reason, a.sentAt, a.ackedAt, a.endedAt, a.retransmits, a.outcome, candidates];
}

function unpackAttempt(packed: unknown[]): AttemptTrace | undefined {
  const [attempt, worker, reason, sentAt, ackedAt, endedAt, retransmits, outcome, candidates] = packed as [
    number,
    string,
    string,
    number,
    number | null,
    number | null,
    number,
    string | null,
    PackedCandidate[],
  ];
  if (typeof attempt !== 'number' || typeof worker !== 'string' || !Array.isArray(candidates)) return undefined;
  return {
    attempt,
    worker,
    reason,
    sentAt,
    ackedAt,
    endedAt,
    retransmits,
    outcome,
    candidates: candidates.map(([name, loadRatio, heartbeatAgeMs, state, avoided]) => ({
      name,
      loadRatio,
      heartbeatAgeMs,
      state,
      avoided: avoided === 1,
      score: loadRatio,
    })),
  };
}

/**
 * A task's record as written, in pieces (see jsonWith). Large payloads and results go in as the
 * texts already rendered (admission, the task's end): they are not serialised again at each
 * write. `payloadKept`: the payload is under its own key, so the record leaves it out.
 */
function serialise(entry: TaskEntry, payloadKept: boolean): string[] {
  // The trace goes with the final write only: most writes are of tasks still on their way, and a
  // trace is what its attempts were once the task has ended.
  const final = isFinalStatus(entry.record.status);
  const fields = {
    r: entry.record as Partial<TaskRecord>,
    s: entry.journalSeq,
    pb: entry.payloadBytes,
    rb: entry.resultBytes,
    f: entry.fingerprint,
    ab: entry.attemptsBefore,
    tr: final ? entry.attemptTraces.map(packAttempt) : undefined,
    tl: final ? entry.timeline.map((t) => (t.detail === undefined ? [t.at, t.event] : [t.at, t.event, t.detail])) : undefined,
    tc: final && entry.trace !== null ? [entry.trace.traceId, entry.trace.parentSpanId, entry.trace.spanId] : undefined,
    pk: payloadKept ? 1 : undefined,
  };
  // Small values are serialised with the record: splicing costs more than it saves there.
  if (!isLargeJson(entry.payloadText) && !isLargeJson(entry.resultText)) return [JSON.stringify(fields)];
  const { payload: _payload, result: _result, ...rest } = entry.record;
  fields.r = rest;
  const result: [string, string] = ['o', resultTextOf(entry)];
  return jsonWith(fields, payloadKept ? [result] : [['p', payloadTextOf(entry)], result]);
}

function parseStored(value: string): JournaledTask | string {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  const parsed = Stored.safeParse(json);
  if (!parsed.success) return `not a task: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim();
  const { r, s, pb, rb, f, ab, tr, tl, tc, p, o, pk } = parsed.data;
  // Records written before payloads were spliced in hold them inside `r`; a kept payload is read
  // from its own key by the caller (null until then).
  const spliced = Object.hasOwn(json as object, 'o');
  const record: TaskRecord = spliced
    ? { ...r, payload: pk === 1 ? null : p, result: o ?? null }
    : { ...r, payload: r.payload, result: r.result ?? null };
  return {
    record,
    seq: s,
    payloadBytes: pb,
    resultBytes: rb,
    fingerprint: f,
    attemptsBefore: ab,
    attemptTraces: (tr ?? []).map(unpackAttempt).filter((a): a is AttemptTrace => a !== undefined),
    timeline: (tl ?? []).map(([at, event, detail]) => (detail === undefined ? { at, event } : { at, event, detail })),
    trace: tc === undefined ? null : { traceId: tc[0], parentSpanId: tc[1], spanId: tc[2], acceptedAt: null },
    payloadKept: pk === 1,
  };
}
