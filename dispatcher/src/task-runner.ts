import {
  TaskmeshError,
  backoffDelay,
  isFinalStatus,
  silentLogger,
  toTaskmeshError,
  type BackoffPolicy,
  type DispatchOutcome,
  type LoadReport,
  type Logger,
} from '@taskmesh/shared';
import type { AdmissionGate } from './admission-gate.js';
import { LaneScheduler } from './lane-scheduler.js';
import { Attempt, type AttemptHost } from './attempt.js';
import type { PendingQueue } from './pending-queue.js';
import type { WorkerPicker } from './worker-picker.js';
import { attemptsSpent, createTaskEntry, outcomeOf, type NewTask, type TaskEntry, type TaskOutcome } from './task-entry.js';
import { TaskStates, type TaskSender } from './task-states.js';
import type { TaskStore } from './task-store.js';
import type { TaskTransitions } from './task-transitions.js';
import type { WorkerDirectory, WorkerView } from './worker-directory.js';

/** Between counted attempts (no acknowledgement, worker lost). */
const RETRY_BACKOFF: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 2000, factor: 2, jitter: 0.3 };

export interface TaskRunnerOptions {
  sender: TaskSender;
  store: TaskStore;
  pending: PendingQueue;
  picker: WorkerPicker;
  directory: WorkerDirectory;
  /** Where the runner publishes each transition (stats, metrics, events and the store listen). */
  transitions: TaskTransitions;
  /** Room checks for retries and stream frames (the HTTP handlers check new tasks themselves). */
  gate: AdmissionGate;
  defaultTimeoutMs: number;
  defaultMaxAttempts: number;
  logger?: Logger;
}

/**
 * The attempt loop: takes tasks from the pending queue, sends each to a worker chosen by the
 * picker, and turns the outcome into the next step. BUSY puts the task back at the head of its
 * lane without spending an attempt (backpressure, bounded by the task's timeout); no
 * acknowledgement, a lost worker or a handler's retryable TaskError spends one and retries
 * elsewhere after a backoff; a rejection or another handler failure is final.
 */
export class TaskRunner implements AttemptHost {
  private inFlightCount = 0;
  private readonly logger: Logger;
  private readonly lanes: LaneScheduler;
  private readonly states: TaskStates;
  private readonly defaults: { timeoutMs: number; maxAttempts: number };

  constructor(private readonly options: TaskRunnerOptions) {
    this.logger = options.logger ?? silentLogger();
    this.defaults = { timeoutMs: options.defaultTimeoutMs, maxAttempts: options.defaultMaxAttempts };
    this.states = new TaskStates(options.transitions, options.pending, options.sender, this.logger);
    this.lanes = new LaneScheduler({
      pending: options.pending,
      picker: options.picker,
      dispatch: (entry, worker) => this.attempt(entry, worker),
    });
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Creates, stores and starts a task (checks done by the caller: type, room). */
  submit(input: NewTask): TaskEntry {
    const entry = createTaskEntry(input, this.defaults, false);
    this.options.store.add(entry);
    this.start(entry);
    return entry;
  }

  /** A task kept out of the store and event stream (image stream frames): resolves with its outcome. */
  runEphemeral(input: NewTask): Promise<TaskOutcome> {
    this.options.gate.checkRoom(1);
    const entry = createTaskEntry(input, this.defaults, true);
    return new Promise((resolve) => {
      entry.waiters = [(e) => resolve(outcomeOf(e))];
      this.start(entry);
    });
  }

  /** Calls `fn` once the task is final (now, if it already is). */
  onFinal(entry: TaskEntry, fn: (entry: TaskEntry) => void): () => void {
    return this.states.onFinal(entry, fn);
  }

  /** DELETE /v1/tasks/:id: stops a queued or running task. */
  cancel(entry: TaskEntry): void {
    if (isFinalStatus(entry.record.status))
      throw new TaskmeshError('CONFLICT', `task ${entry.record.id} is already ${entry.record.status}`);
    this.states.finish(entry, 'cancelled', null, { code: 'CANCELLED', message: 'cancelled by request' });
  }

  /** POST /v1/tasks/:id/retry: runs a failed or cancelled task again, with a fresh attempt budget. */
  retry(entry: TaskEntry, options: { timeoutMs?: number | undefined; maxAttempts?: number | undefined } = {}): void {
    const r = entry.record;
    if (r.status !== 'failed' && r.status !== 'cancelled') {
      throw new TaskmeshError('CONFLICT', `task ${r.id} is ${r.status}; only failed or cancelled tasks can be retried`);
    }
    this.options.gate.checkRoom(1, entry.payloadBytes);
    this.options.store.markUnfinished(entry);
    this.states.set(entry, 'queued');
    if (options.timeoutMs !== undefined) r.timeoutMs = options.timeoutMs;
    if (options.maxAttempts !== undefined) r.maxAttempts = options.maxAttempts;
    r.result = null;
    entry.resultText = null;
    r.error = null;
    r.progress = null;
    r.finishedAt = null;
    entry.attemptsBefore = Math.max(r.attempts, entry.attemptSent);
    entry.busyRetries = 0;
    entry.avoidWorker = null;
    entry.deadline = Date.now() + r.timeoutMs;
    entry.submittedAtHr = performance.now();
    this.states.arm(entry);
    this.options.transitions.retrying(entry, 'manual');
    this.enqueue(entry, false);
  }

  /**
   * A task read back from the journal at start: a final one stays readable; an unfinished one is
   * queued again (call in submission order), one that was running at a worker sent there first.
   */
  recover(entry: TaskEntry): void {
    const r = entry.record;
    this.options.store.add(entry);
    if (isFinalStatus(r.status)) return this.options.store.markFinished(entry);
    if (r.status === 'running') entry.holder = r.worker;
    r.status = 'queued';
    r.worker = null;
    r.progress = null;
    this.options.transitions.statusChanged(entry, null, 'queued');
    this.states.arm(entry);
    this.enqueue(entry, false);
  }

  /** Something outside may have made room for `type` (a lookup answered): see LaneScheduler. */
  pump(type: string): void {
    this.lanes.wake(type);
  }

  close(): void {
    this.lanes.close();
  }

  private start(entry: TaskEntry): void {
    this.options.transitions.statusChanged(entry, null, 'queued');
    this.states.arm(entry);
    this.options.transitions.submitted(entry);
    this.enqueue(entry, false);
  }

  private enqueue(entry: TaskEntry, first: boolean): void {
    this.options.pending.add(entry, first);
    this.lanes.wake(entry.record.type);
  }

  private attempt(entry: TaskEntry, worker: WorkerView): void {
    // After a manual retry the numbers go on past every one sent before (attemptsBefore).
    const number = Math.max(entry.record.attempts, entry.attemptsBefore) + 1;
    entry.attemptSent = Math.max(entry.attemptSent, number);
    const attempt = new Attempt(this, entry, worker, number, Date.now(), this.options.picker.decision());
    entry.current = attempt;
    entry.holder = null;
    this.options.directory.startTask(worker);
    this.inFlightCount++;
    try {
      this.options.sender.start(attempt, attempt);
    } catch (err) {
      // Settled later, as a dispatch would be: never inside the pump that started it.
      queueMicrotask(() => this.attemptSettled(attempt, toTaskmeshError(err)));
    }
  }

  /** @internal (AttemptHost) */
  attemptAccepted(attempt: Attempt, load: LoadReport): void {
    this.options.directory.reportLoad(attempt.worker, load);
    if (attempt.entry.current === attempt && !attempt.wasAccepted) {
      attempt.wasAccepted = true;
      this.accepted(attempt.entry, attempt.worker.name, attempt.attempt);
    }
  }

  /** @internal (AttemptHost) */
  attemptProgress(attempt: Attempt, progress: number | null): void {
    const { entry } = attempt;
    if (entry.current !== attempt || progress === entry.record.progress) return;
    entry.record.progress = progress;
    this.options.transitions.progressed(entry);
  }

  /** The worker took the task (or answered with its result straight away). */
  private accepted(entry: TaskEntry, workerName: string, attempt: number): void {
    const r = entry.record;
    r.attempts = attempt;
    entry.busyRetries = 0;
    r.worker = workerName;
    r.startedAt = Date.now();
    r.progress = null;
    this.states.set(entry, 'running');
    this.options.transitions.dispatched(entry);
  }

  /** @internal (AttemptHost) */
  attemptSettled(settled: Attempt, outcome: DispatchOutcome | TaskmeshError): void {
    const { entry, worker, attempt } = settled;
    const accepted = settled.wasAccepted;
    this.options.directory.endTask(worker);
    this.inFlightCount--;
    const type = entry.record.type;
    // A task cancelled or timed out meanwhile is final already: only the worker's slot matters.
    if (entry.current !== settled || isFinalStatus(entry.record.status)) {
      this.lanes.wake(type);
      return;
    }
    entry.current = null;
    if (outcome instanceof TaskmeshError) {
      this.lost(entry, worker, outcome, accepted, attempt);
    } else {
      switch (outcome.kind) {
        case 'busy':
          this.options.directory.reportBusy(worker, outcome.load);
          this.options.transitions.retrying(entry, 'busy');
          entry.busyRetries++;
          this.backToQueue(entry);
          break;
        case 'rejected':
          this.options.directory.reportLoad(worker, outcome.load);
          if (!accepted) this.accepted(entry, worker.name, attempt);
          this.states.finish(entry, 'failed', null, outcome.error);
          break;
        case 'result':
          if (!accepted) this.accepted(entry, outcome.worker, attempt);
          entry.record.worker = outcome.worker;
          if (outcome.outcome.ok) this.states.finish(entry, 'succeeded', outcome.outcome.value, null);
          // A handler's retryable TaskError: another attempt, elsewhere when it can be.
          else if (outcome.outcome.error.retryable === true)
            this.lost(entry, worker, { ...outcome.outcome.error, retryable: true }, true, attempt);
          else this.states.finish(entry, 'failed', null, outcome.outcome.error);
          break;
        default: {
          const never: never = outcome;
          throw new Error(`unexpected dispatch outcome ${JSON.stringify(never)}`);
        }
      }
    }
    this.lanes.wake(type);
  }

  /** NO_ACK, WORKER_LOST and other transport failures: spend an attempt, retry elsewhere. */
  private lost(
    entry: TaskEntry,
    worker: WorkerView,
    err: { code: string; message: string; retryable: boolean },
    accepted: boolean,
    attempt: number,
  ): void {
    const r = entry.record;
    if (!accepted) {
      // Unacknowledged attempts still count: the worker may have received and run it.
      r.attempts = attempt;
    }
    r.error = { code: err.code, message: `${err.message} (worker ${worker.name}, attempt ${r.attempts})` };
    if (!err.retryable) {
      this.states.finish(entry, 'failed', null, r.error);
      return;
    }
    this.options.directory.reportLost(worker);
    entry.avoidWorker = worker.name;
    const spent = attemptsSpent(entry);
    if (spent >= r.maxAttempts) {
      this.states.finish(entry, 'failed', null, { code: err.code, message: `gave up after ${spent} attempts: ${r.error.message}` });
      return;
    }
    this.logger.debug('retrying task', { taskId: r.id, code: err.code, worker: worker.name, attempt: r.attempts });
    this.states.set(entry, 'queued');
    r.worker = null;
    r.progress = null;
    this.options.transitions.retrying(entry, err.code === 'WORKER_LOST' ? 'worker_lost' : err.code === 'NO_ACK' ? 'no_ack' : 'other');
    const wait = backoffDelay(RETRY_BACKOFF, spent - 1);
    const retryTimer = setTimeout(
      () => {
        if (!isFinalStatus(r.status) && entry.current === null && !entry.pending) this.enqueue(entry, true);
      },
      Math.min(wait, Math.max(0, entry.deadline - Date.now())),
    );
    retryTimer.unref();
  }

  /** BUSY: back to the head of its lane, attempt not spent; the worker rests, the task waits for room. */
  private backToQueue(entry: TaskEntry): void {
    this.states.set(entry, 'queued');
    entry.record.worker = null;
    this.options.pending.add(entry, true);
  }
}
