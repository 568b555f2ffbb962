import {
  JsonText,
  formatTraceparent,
  randomSpanId,
  type Address,
  type DispatchListener,
  type DispatchOutcome,
  type DispatchTarget,
  type LoadReport,
  type TaskmeshError,
} from '@taskmesh/shared';
import { MAX_TRACED_ATTEMPTS, isLargeJson, type AttemptTrace, type TaskEntry } from './task-entry.js';
import type { PickDecision } from './worker-picker.js';
import type { WorkerView } from './worker-directory.js';

/** How much later than the task's deadline a worker gives up on it by itself. */
const WORKER_DEADLINE_GRACE_MS = 250;

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
  /** A traced task's: the attempt's span, the parent of the worker's. */
  readonly traceparent: string | undefined;
  /** The worker acknowledged this attempt (or answered with its result). */
  wasAccepted = false;
  /** This attempt in the task's trace. */
  readonly trace: AttemptTrace;

  constructor(
    private readonly host: AttemptHost,
    readonly entry: TaskEntry,
    readonly worker: WorkerView,
    /** The attempt number sent to the worker. */
    readonly attempt: number,
    now: number,
    decision: PickDecision,
  ) {
    const r = entry.record;
    this.to = { host: worker.host, port: worker.port, id: worker.endpointId };
    this.taskId = r.id;
    this.type = r.type;
    // A large payload goes as the JSON admission rendered: each send splices it in rather than
    // serialising it again. A small one is cheaper serialised with its message.
    this.payload = isLargeJson(entry.payloadText) ? new JsonText([entry.payloadText]) : r.payload;
    // A little past the task's own deadline: the dispatcher's timer, which says where the task was,
    // ends it first, and cancels it at the worker; the worker's own bound is for a lost caller.
    this.timeoutMs = Math.max(1, entry.deadline - now) + WORKER_DEADLINE_GRACE_MS;
    this.redelivery = entry.holder !== null;
    this.trace = {
      attempt,
      worker: worker.name,
      candidates: decision.candidates,
      reason: decision.reason,
      sentAt: now,
      ackedAt: null,
      endedAt: null,
      retransmits: 0,
      outcome: null,
    };
    if (entry.trace !== null) {
      this.trace.spanId = randomSpanId();
      this.traceparent = formatTraceparent(entry.trace.traceId, this.trace.spanId);
    } else this.traceparent = undefined;
    entry.attemptTraces.push(this.trace);
    if (entry.attemptTraces.length > MAX_TRACED_ATTEMPTS) entry.attemptTraces.shift();
  }

  accepted(load: LoadReport): void {
    this.trace.ackedAt ??= Date.now();
    this.host.attemptAccepted(this, load);
  }

  progress(progress: number | null): void {
    this.host.attemptProgress(this, progress);
  }

  settled(outcome: DispatchOutcome | TaskmeshError, retransmits = 0): void {
    const trace = this.trace;
    trace.endedAt = Date.now();
    trace.retransmits = retransmits;
    trace.outcome =
      outcome instanceof Error
        ? `${outcome.code} ${outcome.message}`
        : outcome.kind === 'busy'
          ? 'BUSY'
          : outcome.kind === 'rejected'
            ? `rejected: ${outcome.error.code} ${outcome.error.message}`
            : outcome.outcome.ok
              ? 'succeeded'
              : `${outcome.outcome.error.code} ${outcome.outcome.error.message}`;
    if (!(outcome instanceof Error) && outcome.kind === 'result') trace.ackedAt ??= trace.endedAt;
    this.host.attemptSettled(this, outcome);
  }
}
