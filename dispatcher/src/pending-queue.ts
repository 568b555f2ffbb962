import { HeadQueue } from '@taskmesh/shared';
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
  private readonly slots = new HeadQueue<Slot>();
  stale = 0;

  push(slot: Slot): void {
    this.slots.push(slot);
  }

  unshift(slot: Slot): void {
    this.slots.unshift(slot);
  }

  /** The first live entry, without taking it. */
  peek(): TaskEntry | undefined {
    for (let slot = this.slots.peek(); slot !== undefined; slot = this.slots.peek()) {
      if (isLive(slot)) return slot.entry;
      this.slots.shift();
      this.stale--;
    }
    return undefined;
  }

  /** Drops stale slots in bulk once they are most of the lane (many cancels behind a slow head). */
  compact(): void {
    if (this.stale > 1024 && this.stale * 2 > this.slots.length) {
      this.slots.retain(isLive);
      this.stale = 0;
    }
  }
}

const isLive = (slot: Slot): boolean => slot.entry.pending && slot.entry.queueToken === slot.token;

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
