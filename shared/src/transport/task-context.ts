import type { Logger } from '../logger.js';
import type { LoadReport, TaskMessage } from '../protocol.js';

/** What a running task can see and report. */
export interface TaskContext {
  /** Aborted on cancel (reason: TaskmeshError CANCELLED) or shutdown (SHUTTING_DOWN). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /**
   * Calls `listener` once with the abort reason if the task is aborted (as `signal` would), without
   * making an AbortController: the executor's cheap way to hear of a cancel for every task.
   */
  onAbort(listener: (reason: unknown) => void): void;
  /** The task left the queue and runs now. */
  started(): void;
  /** 0..1 */
  progress(fraction: number): void;
}

/** The worker's queue and handlers, as the TaskServer drives them. */
export interface TaskExecutor {
  /**
   * Takes the task if there is room and returns the promise of its value; returns 'busy' when
   * full. Throwing a TaskmeshError synchronously rejects the task (ack 'rejected' with that error);
   * a rejected promise fails it (result ok:false, TaskmeshError code kept, else HANDLER_FAILED).
   */
  offer(task: TaskMessage, ctx: TaskContext): Promise<unknown> | 'busy';
  load(): LoadReport;
}
