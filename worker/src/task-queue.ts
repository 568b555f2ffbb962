import { TaskmeshError, silentLogger, toTaskmeshError } from '@taskmesh/shared';
import type { LoadReport, Logger, TaskExecutor, TaskMessage } from '@taskmesh/shared';
import { parsePayload } from './types/parse-payload.js';
import type { HandlerContext, TaskTypeModule } from './types/task-type.js';

/** What the transport's TaskServer hands the executor with each task (its TaskContext). */
export interface QueueTaskContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  started(): void;
  progress(fraction: number): void;
}

export interface TaskQueueOptions {
  /** The one type this worker runs. */
  type: TaskTypeModule;
  /** Handlers running at once. */
  concurrency: number;
  /** Tasks waiting beyond those; one more is answered BUSY. */
  queueSize: number;
  workerName: string;
  logger?: Logger;
  /** The clock handlers see. */
  now?: () => Date;
  /** Called after every change of load(), e.g. to publish it to the heartbeat thread. */
  onLoadChange?: (load: LoadReport) => void;
}

interface Entry {
  task: TaskMessage;
  payload: unknown;
  ctx: QueueTaskContext;
  /** Aborted by the caller's cancel or the task's deadline. */
  controller: AbortController;
  settled: boolean;
  resolve(value: unknown): void;
  reject(err: TaskmeshError): void;
  cleanup(): void;
}

/**
 * The worker's executor: validates a task's payload, holds at most `concurrency + queueSize`
 * tasks, runs `concurrency` of them at a time in arrival order and answers 'busy' at once when
 * full, so a dispatcher can try another worker instead of piling work up here (backpressure).
 * Implements the transport's TaskExecutor.
 */
export class TaskQueue implements TaskExecutor {
  readonly type: TaskTypeModule;
  readonly concurrency: number;
  readonly queueSize: number;
  private readonly workerName: string;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly onLoadChange: ((load: LoadReport) => void) | undefined;
  private readonly waiting: Entry[] = [];
  private running = 0;
  private pumpScheduled = false;

  constructor(options: TaskQueueOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be an integer >= 1');
    if (!Number.isInteger(options.queueSize) || options.queueSize < 0) throw new RangeError('queueSize must be an integer >= 0');
    this.type = options.type;
    this.concurrency = options.concurrency;
    this.queueSize = options.queueSize;
    this.workerName = options.workerName;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.onLoadChange = options.onLoadChange;
  }

  get capacity(): number {
    return this.concurrency + this.queueSize;
  }

  load(): LoadReport {
    return { queued: this.waiting.length, inFlight: this.running, capacity: this.capacity };
  }

  /**
   * Takes the task or answers 'busy'. Throws TaskmeshError synchronously (UNKNOWN_TYPE,
   * INVALID_PAYLOAD) for a task no retry can fix. The promise rejects with CANCELLED or TIMEOUT
   * when the task is aborted, with the handler's TaskmeshError, or HANDLER_FAILED.
   */
  offer(task: TaskMessage, ctx: QueueTaskContext): Promise<unknown> | 'busy' {
    if (task.type !== this.type.name) {
      throw new TaskmeshError('UNKNOWN_TYPE', `this worker runs "${this.type.name}" tasks, not "${task.type}"`);
    }
    // Validate before the capacity check: a bad payload is final, busy would only send it elsewhere.
    const payload = parsePayload(this.type, task.payload);
    if (this.running + this.waiting.length >= this.capacity) return 'busy';

    return new Promise<unknown>((resolve, reject) => {
      const controller = new AbortController();
      const deadline = setTimeout(() => {
        controller.abort(new TaskmeshError('TIMEOUT', `task ran past its ${task.timeoutMs} ms deadline`));
      }, task.timeoutMs);
      deadline.unref();
      const onCancel = (): void => {
        const reason: unknown = ctx.signal.reason;
        controller.abort(reason instanceof TaskmeshError ? reason : new TaskmeshError('CANCELLED', 'cancelled by the caller'));
      };
      const entry: Entry = {
        task,
        payload,
        ctx,
        controller,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(deadline);
          ctx.signal.removeEventListener('abort', onCancel);
        },
      };
      controller.signal.addEventListener('abort', () => this.abandon(entry), { once: true });
      if (ctx.signal.aborted) onCancel();
      else ctx.signal.addEventListener('abort', onCancel, { once: true });
      if (!entry.settled) {
        this.waiting.push(entry);
        this.changed();
        this.schedulePump();
      }
    });
  }

  /** Settles an aborted task at once; a running handler keeps its slot until it returns. */
  private abandon(entry: Entry): void {
    const index = this.waiting.indexOf(entry);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.changed();
    }
    this.settle(entry, { error: toTaskmeshError(entry.controller.signal.reason, 'CANCELLED') });
  }

  private settle(entry: Entry, outcome: { value: unknown } | { error: TaskmeshError }): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.cleanup();
    if ('value' in outcome) entry.resolve(outcome.value);
    else entry.reject(outcome.error);
  }

  /**
   * Handlers start one event-loop turn later rather than inside offer(): the transport flushes
   * its acks from a setImmediate queued after offer() returns, and a synchronous handler (an
   * image) must not hold those acks back, or the caller would retransmit and give up.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() =>
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      }),
    );
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const entry = this.waiting.shift();
      if (entry === undefined) return;
      this.start(entry);
    }
  }

  private start(entry: Entry): void {
    this.running += 1;
    this.changed();
    const { task, ctx } = entry;
    const startedAt = performance.now();
    ctx.started();
    this.logger.debug('task started', { event: 'task-started', taskId: task.taskId, type: task.type, attempt: task.attempt });
    const handlerCtx: HandlerContext = {
      signal: entry.controller.signal,
      workerName: this.workerName,
      now: this.now,
      progress: (fraction) => {
        if (!entry.settled && Number.isFinite(fraction)) ctx.progress(Math.min(1, Math.max(0, fraction)));
      },
    };
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(this.type.handle(entry.payload, handlerCtx));
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome
      .then(
        (value) => {
          this.settle(entry, { value });
          return undefined;
        },
        (err: unknown) => {
          const error = toTaskmeshError(err, 'HANDLER_FAILED');
          this.settle(entry, { error });
          return error;
        },
      )
      .then((error) => {
        const ms = Math.round(performance.now() - startedAt);
        this.logger.debug('task finished', { event: 'task-finished', taskId: task.taskId, ok: error === undefined, code: error?.code, ms });
        this.running -= 1;
        this.changed();
        this.schedulePump();
      });
  }

  private changed(): void {
    this.onLoadChange?.(this.load());
  }
}
