import type { TaskEntry } from './task-entry.js';

interface Slot {
  entry: TaskEntry;
  token: number;
}

/**
 * A FIFO of one type's waiting tasks. Removal is lazy: a cancelled or timed-out entry leaves a
 * stale slot (its token no longer matches) that is skipped when reached, so every operation is
 * O(1) amortised.
 */
class Lane {
  private slots: Array<Slot | undefined> = [];
  private head = 0;
  stale = 0;

  push(slot: Slot): void {
    this.slots.push(slot);
  }

  unshift(slot: Slot): void {
    if (this.head > 0) this.slots[--this.head] = slot;
    else this.slots.unshift(slot);
  }

  /** The first live entry, without taking it. */
  peek(): TaskEntry | undefined {
    while (this.head < this.slots.length) {
      const slot = this.slots[this.head]!;
      if (slot.entry.pending && slot.entry.queueToken === slot.token) return slot.entry;
      this.slots[this.head++] = undefined;
      this.stale--;
    }
    if (this.slots.length > 0) this.reset();
    return undefined;
  }

  compact(): void {
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    if (this.stale > 1024 && this.stale * 2 > this.slots.length - this.head) {
      this.slots = this.slots.slice(this.head).filter((s) => s !== undefined && s.entry.pending && s.entry.queueToken === s.token);
      this.head = 0;
      this.stale = 0;
    }
  }

  private reset(): void {
    this.slots = [];
    this.head = 0;
    this.stale = 0;
  }
}

/**
 * The bounded queue of tasks waiting for a worker: no live worker of their type yet, every worker
 * above the load threshold, or between attempts. One lane per type keeps types from blocking one
 * another. `size` counts live entries only; `limit` bounds it (429 QUEUE_FULL above).
 */
export class PendingQueue {
  private readonly lanes = new Map<string, Lane>();
  private count = 0;
  private nextToken = 1;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.count;
  }

  hasRoom(n = 1): boolean {
    return this.count + n <= this.limit;
  }

  /** Appends a task (or puts it first, after a BUSY answer, to keep its place). */
  add(entry: TaskEntry, first = false): void {
    if (entry.pending) return;
    entry.pending = true;
    entry.queueToken = this.nextToken++;
    this.count++;
    let lane = this.lanes.get(entry.record.type);
    if (lane === undefined) {
      lane = new Lane();
      this.lanes.set(entry.record.type, lane);
    }
    const slot = { entry, token: entry.queueToken };
    if (first) lane.unshift(slot);
    else lane.push(slot);
  }

  /** Takes a task out wherever it is (cancel, timeout, dispatch). */
  remove(entry: TaskEntry): void {
    if (!entry.pending) return;
    entry.pending = false;
    this.count--;
    const lane = this.lanes.get(entry.record.type);
    if (lane !== undefined) {
      lane.stale++;
      lane.compact();
    }
  }

  /** The oldest waiting task of a type. */
  peek(type: string): TaskEntry | undefined {
    return this.lanes.get(type)?.peek();
  }

  /** Types with at least one waiting task. */
  *busyTypes(): IterableIterator<string> {
    for (const [type, lane] of this.lanes) if (lane.peek() !== undefined) yield type;
  }
}
