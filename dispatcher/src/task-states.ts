import {
  TaskmeshError,
  isFinalStatus,
  type DispatchListener,
  type DispatchTarget,
  type Logger,
  type TaskStatus,
  type WireError,
} from '@taskmesh/shared';
import { measureResult } from './admission.js';
import type { PendingQueue } from './pending-queue.js';
import type { TaskEntry } from './task-entry.js';
import type { TaskTransitions } from './task-transitions.js';

/** The part of TaskCaller that ends a dispatch early. */
export interface DispatchAborter {
  abort(taskId: string, reason: TaskmeshError, listener?: DispatchListener): void;
}

/** The part of TaskCaller the runner uses. */
export interface TaskSender extends DispatchAborter {
  start(target: DispatchTarget, listener: DispatchListener): void;
}

export type FinalStatus = 'succeeded' | 'failed' | 'cancelled';

/**
 * A task's status: every change goes through here and is published (TaskTransitions), and the end
 * of a task happens here once: its result checked, its deadline cleared, its waiters told, its
 * dispatch cancelled at the worker. The deadline itself (TIMEOUT) is armed here too.
 */
export class TaskStates {
  constructor(
    private readonly transitions: TaskTransitions,
    private readonly pending: PendingQueue,
    private readonly aborter: DispatchAborter,
    private readonly logger: Logger,
  ) {}

  set(entry: TaskEntry, to: TaskStatus): void {
    const from = entry.record.status;
    if (from === to) return;
    entry.record.status = to;
    this.transitions.statusChanged(entry, from, to);
  }

  /** Calls `fn` once the task is final (now, if it already is); returns its removal. */
  onFinal(entry: TaskEntry, fn: (entry: TaskEntry) => void): () => void {
    if (isFinalStatus(entry.record.status)) {
      fn(entry);
      return () => undefined;
    }
    (entry.waiters ??= []).push(fn);
    return () => {
      const i = entry.waiters?.indexOf(fn) ?? -1;
      if (i >= 0) entry.waiters!.splice(i, 1);
    };
  }

  /** (Re)arms the task's deadline: TIMEOUT, cancelling at the worker. */
  arm(entry: TaskEntry): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = setTimeout(this.deadlinePassed, Math.max(0, entry.deadline - Date.now()), entry);
    // The server keeps the process alive while serving; a task's deadline alone must not.
    entry.timer.unref();
  }

  /** Ends the task (once; a final task stays as it is). */
  finish(entry: TaskEntry, status: FinalStatus, result: unknown, error: WireError | null): void {
    const r = entry.record;
    if (isFinalStatus(r.status)) return;
    if (entry.timer !== null) {
      clearTimeout(entry.timer);
      entry.timer = null;
    }
    if (entry.pending) this.pending.remove(entry);
    const current = entry.current;
    entry.current = null;
    if (status === 'succeeded' && !entry.ephemeral) {
      // The record is served as JSON for its whole retention: a result that cannot be is refused
      // here, as a failure that says why, rather than breaking every later read of the task.
      const kept = measureResult(result);
      if (typeof kept === 'string') {
        status = 'failed';
        error = { code: 'HANDLER_FAILED', message: `the result cannot be kept: ${kept}` };
        result = null;
      } else {
        entry.resultBytes = kept.bytes;
        entry.resultText = kept.text;
      }
    }
    this.set(entry, status);
    r.result = result ?? null;
    if (status !== 'succeeded') entry.resultText = null;
    r.error = error;
    r.finishedAt = Date.now();
    if (status === 'succeeded') r.progress = 1;
    this.transitions.finished(entry, performance.now() - entry.submittedAtHr);
    this.tellWaiters(entry);
    if (current !== null) {
      // Cancel at the worker; the dispatch settles at once and is ignored (the task is final).
      const reason =
        status === 'cancelled'
          ? new TaskmeshError('CANCELLED', 'cancelled by request')
          : new TaskmeshError('TIMEOUT', error?.message ?? 'timed out');
      this.aborter.abort(r.id, reason, current);
    }
  }

  private tellWaiters(entry: TaskEntry): void {
    const waiters = entry.waiters;
    entry.waiters = null;
    if (waiters === null) return;
    for (const fn of waiters) {
      try {
        fn(entry);
      } catch (err) {
        // A waiter is an HTTP answer or a stream: its failure is its own, never the task's.
        this.logger.warn('task waiter failed', { taskId: entry.record.id, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** (A bound function with the entry as argument: no closure per task.) */
  private readonly deadlinePassed = (entry: TaskEntry): void => {
    entry.timer = null;
    if (isFinalStatus(entry.record.status)) return;
    const inFlight = entry.current !== null;
    // An attempt still unacknowledged counts too: the worker may have received it and run it.
    if (inFlight) entry.record.attempts = Math.max(entry.record.attempts, entry.attemptSent);
    const sentTo = entry.attemptTraces.at(-1)?.worker ?? '?';
    const where = !inFlight ? 'waiting for a worker' : `at worker ${entry.record.worker ?? `${sentTo}, which had not acknowledged it`}`;
    const last = entry.record.error;
    const busy = entry.busyRetries > 0 ? `; ${entry.busyRetries} BUSY answers` : '';
    const message = `no result within ${entry.record.timeoutMs} ms (${where})${busy}${last ? `; last problem: ${last.code}: ${last.message}` : ''}`;
    this.finish(entry, 'failed', null, { code: 'TIMEOUT', message });
  };
}
