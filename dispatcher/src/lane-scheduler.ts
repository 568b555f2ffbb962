import type { PendingQueue } from './pending-queue.js';
import type { TaskEntry } from './task-entry.js';
import type { WorkerPicker } from './worker-picker.js';
import type { WorkerView } from './worker-directory.js';

/** How often waiting tasks are re-checked when no event (a lookup, a finished task) does it. */
const PENDING_RECHECK_MS = 100;

export interface LaneSchedulerOptions {
  pending: PendingQueue;
  picker: WorkerPicker;
  /** Sends `entry` to `worker` (the runner's attempt). */
  dispatch: (entry: TaskEntry, worker: WorkerView) => void;
  recheckMs?: number;
}

/**
 * The one place that decides when waiting tasks leave their lanes. A lane is pumped when
 * something may have made room — a task queued, an attempt settled, a lookup answered (`wake`) —
 * and every PENDING_RECHECK_MS for what no event announces (a worker's rest ending). A pump takes
 * the lane's head while the picker finds a worker for it, so FIFO order holds per type.
 */
export class LaneScheduler {
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: LaneSchedulerOptions) {
    this.timer = setInterval(this.recheck, options.recheckMs ?? PENDING_RECHECK_MS);
    this.timer.unref();
  }

  /** Something may have made room for `type`: dispatch its waiting tasks while workers take them. */
  wake(type: string): void {
    if (this.closed) return;
    const { pending, picker, dispatch } = this.options;
    for (;;) {
      const entry = pending.peek(type);
      if (entry === undefined) return;
      const worker = picker.pick(type, entry.avoidWorker, entry.holder);
      if (typeof worker === 'string') return;
      pending.remove(entry);
      dispatch(entry, worker);
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private readonly recheck = (): void => {
    for (const type of this.options.pending.busyTypes()) this.wake(type);
  };
}
