import type { TaskRecord, TaskStatus } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';

export interface TaskStoreOptions {
  /** Most finished tasks kept; the oldest finished are evicted first. */
  retention: number;
  /** Finished tasks older than this (since they finished) are evicted. */
  retentionMs: number;
  now?: () => number;
}

export interface TaskQuery {
  status?: TaskStatus;
  type?: string;
  limit: number;
}

/**
 * In-memory task records with bounded retention. Unfinished tasks are never evicted; finished
 * ones live in a second Map in the order they finished, so eviction only ever looks at its head
 * (O(1) per task). Idempotency keys live exactly as long as their task.
 */
export class TaskStore {
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly finished = new Map<string, TaskEntry>();
  private readonly keys = new Map<string, TaskEntry>();
  private readonly now: () => number;

  constructor(private readonly options: TaskStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.tasks.size;
  }

  get finishedCount(): number {
    return this.finished.size;
  }

  add(entry: TaskEntry): void {
    this.tasks.set(entry.record.id, entry);
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
    const id = entry.record.id;
    if (!this.tasks.has(id)) return;
    this.finished.delete(id);
    this.finished.set(id, entry);
    this.evict();
  }

  /** A retried task is unfinished again and must not be evicted. */
  markUnfinished(entry: TaskEntry): void {
    this.finished.delete(entry.record.id);
  }

  /** Drops finished tasks beyond the count bound or older than the age bound. */
  evict(): number {
    const oldest = this.now() - this.options.retentionMs;
    let evicted = 0;
    for (const [id, entry] of this.finished) {
      const tooMany = this.finished.size > this.options.retention;
      if (!tooMany && (entry.record.finishedAt ?? 0) >= oldest) break;
      this.finished.delete(id);
      this.tasks.delete(id);
      const key = entry.record.idempotencyKey;
      if (key !== null && this.keys.get(key) === entry) this.keys.delete(key);
      evicted++;
    }
    return evicted;
  }

  /** Matching records, newest first. */
  list(query: TaskQuery): TaskRecord[] {
    const out: TaskRecord[] = [];
    if (query.limit <= 0) return out;
    // Map iteration is oldest first; a snapshot walked backwards gives newest first.
    const all = [...this.tasks.values()];
    for (let i = all.length - 1; i >= 0 && out.length < query.limit; i--) {
      const record = all[i]!.record;
      if (query.status !== undefined && record.status !== query.status) continue;
      if (query.type !== undefined && record.type !== query.type) continue;
      out.push(record);
    }
    return out;
  }
}
