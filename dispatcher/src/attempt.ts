import type { Address, DispatchListener, DispatchOutcome, DispatchTarget, LoadReport, TaskmeshError } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';
import type { WorkerView } from './worker-directory.js';

/** What an attempt reports to (the TaskRunner). */
export interface AttemptHost {
  attemptAccepted(attempt: Attempt, load: LoadReport): void;
  attemptProgress(attempt: Attempt, progress: number | null): void;
  attemptSettled(attempt: Attempt, outcome: DispatchOutcome | TaskmeshError): void;
}

/**
 * One attempt of a task at one worker: the dispatch's target and its listener in one object, so an
 * attempt costs one allocation besides the caller's own (no Promise chain, closures or abort
 * signal per attempt; a cancel goes through `TaskSender.abort`). The task's entry points at its
 * current attempt; a settled or superseded attempt is told apart by identity.
 */
export class Attempt implements DispatchTarget, DispatchListener {
  readonly to: Address;
  readonly taskId: string;
  readonly type: string;
  readonly payload: unknown;
  readonly timeoutMs: number;
  readonly redelivery: boolean;
  /** The worker acknowledged this attempt (or answered with its result). */
  wasAccepted = false;

  constructor(
    private readonly host: AttemptHost,
    readonly entry: TaskEntry,
    readonly worker: WorkerView,
    /** The attempt number sent to the worker. */
    readonly attempt: number,
    now: number,
  ) {
    const r = entry.record;
    this.to = { host: worker.host, port: worker.port, id: worker.endpointId };
    this.taskId = r.id;
    this.type = r.type;
    this.payload = r.payload;
    this.timeoutMs = Math.max(1, entry.deadline - now);
    this.redelivery = entry.holder !== null;
  }

  accepted(load: LoadReport): void {
    this.host.attemptAccepted(this, load);
  }

  progress(progress: number | null): void {
    this.host.attemptProgress(this, progress);
  }

  settled(outcome: DispatchOutcome | TaskmeshError): void {
    this.host.attemptSettled(this, outcome);
  }
}
