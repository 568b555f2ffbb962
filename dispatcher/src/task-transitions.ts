import type { TaskStatus } from '@taskmesh/shared';
import type { RetryReason } from './metrics.js';
import type { TaskEntry } from './task-entry.js';

/**
 * What happens to a task, as the runner publishes it: once, from one place. Stats, metrics, the
 * event stream and the store subscribe where the dispatcher is assembled (dispatcher.ts); the
 * runner knows none of them. Every method is optional.
 */
export interface TaskObserver {
  /** Accepted and queued for the first time. */
  submitted?(entry: TaskEntry): void;
  /** Its status changed (queued → running → succeeded, …); `from` is null for a new task. */
  statusChanged?(entry: TaskEntry, from: TaskStatus | null, to: TaskStatus): void;
  /** A worker took it (acknowledged, or answered with its result at once). */
  dispatched?(entry: TaskEntry): void;
  /** The worker reported a new progress figure. */
  progressed?(entry: TaskEntry): void;
  /** It goes back to waiting: BUSY (no attempt spent), a lost attempt, or a manual retry. */
  retrying?(entry: TaskEntry, reason: RetryReason): void;
  /** It reached a final status; `latencyMs` from submission. */
  finished?(entry: TaskEntry, latencyMs: number): void;
}

/** The observers of the runner's transitions, called in the order they subscribed. */
export class TaskTransitions implements Required<TaskObserver> {
  private observers: TaskObserver[] = [];

  subscribe(observer: TaskObserver): void {
    this.observers = [...this.observers, observer];
  }

  submitted(entry: TaskEntry): void {
    for (const o of this.observers) o.submitted?.(entry);
  }

  statusChanged(entry: TaskEntry, from: TaskStatus | null, to: TaskStatus): void {
    for (const o of this.observers) o.statusChanged?.(entry, from, to);
  }

  dispatched(entry: TaskEntry): void {
    for (const o of this.observers) o.dispatched?.(entry);
  }

  progressed(entry: TaskEntry): void {
    for (const o of this.observers) o.progressed?.(entry);
  }

  retrying(entry: TaskEntry, reason: RetryReason): void {
    for (const o of this.observers) o.retrying?.(entry, reason);
  }

  finished(entry: TaskEntry, latencyMs: number): void {
    for (const o of this.observers) o.finished?.(entry, latencyMs);
  }
}
