import type { TraceParent } from '../tracing/traceparent.js';
import type { TaskmeshError } from '../errors.js';
import { abortLazily, lazySignal, type LazyAbortable } from '../lazy-abort.js';
import type { Logger } from '../logger.js';
import type { Outgoing, ResultMessage } from '../protocol.js';
import type { Address } from './endpoint-stats.js';
import type { Flight, FlightMember } from './flights.js';
import type { TaskContext } from './task-context.js';

/** What a task needs from the server that holds it. */
export interface ServerTaskHost {
  readonly logger: Logger;
  reportProgress(task: ServerTask): void;
}

/**
 * One task a TaskServer knows: queued, running, or finished with its result cached. It is also
 * the task's TaskContext (one object per task on the hot path; signal and logger are made on
 * first use, as most tasks never look at them).
 */
export class ServerTask implements TaskContext, FlightMember<ServerTask>, LazyAbortable {
  state: 'queued' | 'running' | 'done' = 'queued';
  progressFraction: number | null = null;
  progressSentAt: number;
  controller: AbortController | undefined = undefined;
  result: Outgoing<ResultMessage> | undefined = undefined;
  awaitingAck = false;
  resultSentAt = 0;
  /** When its result last left (first send or a retransmission). */
  lastSentAt = 0;
  /** The encoded result's bytes, counted against the result cache's byte bound. */
  resultBytes = 0;
  retransmits = 0;
  /** The flight its result is being (re)sent in, while awaiting acknowledgement. */
  flight: Flight<ServerTask> | undefined = undefined;
  finishedAt = 0;
  /** When the handler started (0 while queued). */
  startedAt = 0;
  /** A traced attempt (TaskMessage.traceparent): the handler's span is exported under it. */
  trace: TraceParent | null = null;
  private childLogger: Logger | undefined = undefined;
  private abortListener: ((reason: unknown) => void) | undefined = undefined;
  /** Why it was aborted (the caller's cancel, the server closing); undefined until then. */
  abortReason: TaskmeshError | undefined = undefined;

  constructor(
    private readonly host: ServerTaskHost,
    readonly taskId: string,
    readonly attempt: number,
    /** Results go where the task (or its latest retransmission) came from. */
    public from: Address,
    readonly receivedAt: number,
    /** The caller's identity (TaskMessage.origin): only it may take the task over from a new address. */
    readonly origin: string | undefined,
  ) {
    // The ack counts as the first report, so fast tasks send no progress at all.
    this.progressSentAt = receivedAt;
  }

  get signal(): AbortSignal {
    return lazySignal(this);
  }

  onAbort(listener: (reason: unknown) => void): void {
    if (this.abortReason !== undefined) listener(this.abortReason);
    else this.abortListener = listener;
  }

  get logger(): Logger {
    this.childLogger ??= this.host.logger.child({ taskId: this.taskId });
    return this.childLogger;
  }

  started(): void {
    if (this.state !== 'queued') return;
    this.state = 'running';
    this.startedAt = Date.now();
    this.host.reportProgress(this);
  }

  progress(fraction: number): void {
    if (this.state === 'done' || !Number.isFinite(fraction)) return;
    this.progressFraction = Math.min(1, Math.max(0, fraction));
    this.host.reportProgress(this);
  }

  /** Aborts the task's signal with `reason` (once). */
  abort(reason: TaskmeshError): void {
    if (!abortLazily(this, reason)) return;
    const listener = this.abortListener;
    this.abortListener = undefined;
    listener?.(reason);
  }

  /** The task finished: nothing will abort it any more, so its abort plumbing can go. */
  release(): void {
    this.controller = undefined;
    this.abortListener = undefined;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }
}
