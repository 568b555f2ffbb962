import { HeadQueue, type TaskStatus } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';

export interface TaskStoreOptions {
  /** Most finished tasks kept; the oldest finished are evicted first. */
  retention: number;
  /** Finished tasks older than this (since they finished) are evicted. */
  retentionMs: number;
  /** Most bytes (payloads and results) finished tasks hold; the oldest finished are evicted first. */
  retentionBytes?: number;
  now?: () => number;
}

export interface TaskQuery {
  status?: TaskStatus;
  type?: string;
  worker?: string | undefined;
  idPrefix?: string | undefined;
  /** createdAt bounds, ms since the epoch. */
  since?: number | undefined;
  until?: number | undefined;
  limit: number;
}

/**
 * In-memory task records with bounded retention. Unfinished tasks are never evicted; finished
 * ones are also queued in the order they finished, so eviction only ever looks at the head of
 * that queue (O(1) amortised per task). Idempotency keys live exactly as long as their task.
 */
export class TaskStore {
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly keys = new Map<string, TaskEntry>();
  // Finished tasks in the order they finished. A slot is stale when its entry was retried or
  // finished again since (its finishSeq changed).
  private readonly finished = new HeadQueue<{ entry: TaskEntry; seq: number }>();
  private finishedLive = 0;
  private nextSeq = 1;
  private readonly now: () => number;
  private readonly retentionBytes: number;
  /** Bytes held by finished tasks (payload, result and bookkeeping), bounded by retentionBytes. */
  private retained = 0;
  /** Payload bytes of unfinished tasks (the dispatcher bounds them at admission). */
  private unfinished = 0;

  constructor(private readonly options: TaskStoreOptions) {
    this.now = options.now ?? Date.now;
    this.retentionBytes = options.retentionBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes held by finished tasks now. */
  get retainedBytes(): number {
    return this.retained;
  }

  /** Payload bytes of the tasks not finished yet. */
  get unfinishedBytes(): number {
    return this.unfinished;
  }

  get size(): number {
    return this.tasks.size;
  }

  get finishedCount(): number {
    return this.finishedLive;
  }

  add(entry: TaskEntry): void {
    this.tasks.set(entry.record.id, entry);
    this.unfinished += entry.payloadBytes;
    const key = entry.record.idempotencyKey;
    if (key !== null) this.keys.set(key, entry);
  }

  get(id: string): TaskEntry | undefined {
    return this.tasks.get(id);
  }

  byIdempotencyKey(key: string): TaskEntry | undefined {
    return this.keys.get(key);
  }

  /** Records that a task reached a final status (again, after a retry): it becomes evictable. */
  markFinished(entry: TaskEntry): void {
    if (this.tasks.get(entry.record.id) !== entry) return;
    if (entry.finishSeq !== 0) {
      this.finishedLive--;
      this.retained -= entry.retainedCharge;
      entry.retainedCharge = 0;
    } else this.unfinished -= entry.payloadBytes;
    entry.finishSeq = this.nextSeq++;
    entry.retainedCharge = retainedSize(entry);
    this.retained += entry.retainedCharge;
    this.finished.push({ entry, seq: entry.finishSeq });
    this.finishedLive++;
    this.evict();
  }

  /** A retried task is unfinished again and must not be evicted. */
  markUnfinished(entry: TaskEntry): void {
    if (entry.finishSeq === 0) return;
    this.retained -= entry.retainedCharge;
    entry.retainedCharge = 0;
    this.unfinished += entry.payloadBytes;
    entry.finishSeq = 0;
    this.finishedLive--;
  }

  /** Drops finished tasks beyond the count bound or older than the age bound. */
  evict(): number {
    const oldest = this.now() - this.options.retentionMs;
    let evicted = 0;
    for (let slot = this.finished.peek(); slot !== undefined; slot = this.finished.peek()) {
      const { entry } = slot;
      if (entry.finishSeq === slot.seq) {
        if (this.finishedLive <= this.options.retention && this.retained <= this.retentionBytes && (entry.record.finishedAt ?? 0) >= oldest)
          break;
        this.retained -= entry.retainedCharge;
        entry.retainedCharge = 0;
        entry.finishSeq = 0;
        this.finishedLive--;
        this.tasks.delete(entry.record.id);
        const key = entry.record.idempotencyKey;
        if (key !== null && this.keys.get(key) === entry) this.keys.delete(key);
        evicted++;
      }
      this.finished.shift();
    }
    return evicted;
  }

  /** Matching records, newest first. */
  list(query: TaskQuery): TaskEntry[] {
    const out: TaskEntry[] = [];
    if (query.limit <= 0) return out;
    // Map iteration is oldest first; a snapshot walked backwards gives newest first.
    const all = [...this.tasks.values()];
    for (let i = all.length - 1; i >= 0 && out.length < query.limit; i--) {
      const entry = all[i]!;
      const { record } = entry;
      if (query.status !== undefined && record.status !== query.status) continue;
      if (query.type !== undefined && record.type !== query.type) continue;
      if (query.worker !== undefined && record.worker !== query.worker) continue;
      if (query.idPrefix !== undefined && !record.id.startsWith(query.idPrefix)) continue;
      if (query.since !== undefined && record.createdAt < query.since) continue;
      if (query.until !== undefined && record.createdAt > query.until) continue;
      out.push(entry);
    }
    return out;
  }
}

/** What a finished task's record costs besides what is counted below (ids, times, maps), roughly. */
const RECORD_OVERHEAD_BYTES = 512;
/** A timeline step and an attempt's trace (without its candidates), and one candidate of it, roughly. */
const TIMELINE_STEP_BYTES = 96;
const ATTEMPT_BYTES = 256;
const CANDIDATE_BYTES = 128;

/**
 * The bytes a finished entry counts against the retention bound: its payload and result (values
 * and texts), and what grows with it besides them (error text, idempotency key, timeline, traced
 * attempts), so a task with an empty payload is not counted as nearly nothing.
 */
function retainedSize(entry: TaskEntry): number {
  const { record } = entry;
  let bytes = entry.payloadBytes + entry.resultBytes + RECORD_OVERHEAD_BYTES;
  // Their JSON texts, kept beside the values once rendered.
  bytes += (entry.payloadText?.length ?? 0) + (entry.resultText?.length ?? 0);
  if (record.error !== null) bytes += record.error.message.length;
  if (record.idempotencyKey !== null) bytes += 2 * record.idempotencyKey.length;
  for (const step of entry.timeline) bytes += TIMELINE_STEP_BYTES + (step.detail?.length ?? 0);
  for (const attempt of entry.attemptTraces) bytes += ATTEMPT_BYTES + attempt.candidates.length * CANDIDATE_BYTES;
  return bytes;
}
