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
  submitted?: (entry: TaskEntry) => void;
  /** Its status changed (queued → running → succeeded, …); `from` is null for a new task. */
  statusChanged?: (entry: TaskEntry, from: TaskStatus | null, to: TaskStatus) => void;
  /** A worker took it (acknowledged, or answered with its result at once). */
  dispatched?: (entry: TaskEntry) => void;
  /** The worker reported a new progress figure. */
  progressed?: (entry: TaskEntry) => void;
  /** It goes back to waiting: BUSY (no attempt spent), a lost attempt, or a manual retry. */
  retrying?: (entry: TaskEntry, reason: RetryReason) => void;
  /** It reached a final status; `latencyMs` from submission. */
  finished?: (entry: TaskEntry, latencyMs: number) => void;
}

type Listeners = { [K in keyof TaskObserver]-?: Array<NonNullable<TaskObserver[K]>> };

/**
 * The observers of the runner's transitions, called in the order they subscribed. Each kind of
 * transition keeps its own list of functions, so publishing one costs a loop over exactly the
 * listeners that want it (this runs several times per task on the hot path).
 */
export class TaskTransitions implements Required<TaskObserver> {
  private readonly listeners: Listeners = { submitted: [], statusChanged: [], dispatched: [], progressed: [], retrying: [], finished: [] };

  subscribe(observer: TaskObserver): void {
    const l = this.listeners;
    if (observer.submitted) l.submitted.push(observer.submitted);
    if (observer.statusChanged) l.statusChanged.push(observer.statusChanged);
    if (observer.dispatched) l.dispatched.push(observer.dispatched);
    if (observer.progressed) l.progressed.push(observer.progressed);
    if (observer.retrying) l.retrying.push(observer.retrying);
    if (observer.finished) l.finished.push(observer.finished);
  }

  submitted(entry: TaskEntry): void {
    for (const fn of this.listeners.submitted) fn(entry);
  }

  statusChanged(entry: TaskEntry, from: TaskStatus | null, to: TaskStatus): void {
    for (const fn of this.listeners.statusChanged) fn(entry, from, to);
  }

  dispatched(entry: TaskEntry): void {
    for (const fn of this.listeners.dispatched) fn(entry);
  }

  progressed(entry: TaskEntry): void {
    for (const fn of this.listeners.progressed) fn(entry);
  }

  retrying(entry: TaskEntry, reason: RetryReason): void {
    for (const fn of this.listeners.retrying) fn(entry, reason);
  }

  finished(entry: TaskEntry, latencyMs: number): void {
    for (const fn of this.listeners.finished) fn(entry, latencyMs);
  }
}
