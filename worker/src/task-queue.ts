import { TaskError, TaskmeshError, abortLazily, lazySignal, silentLogger, toTaskmeshError } from '@taskmesh/shared';
import type { LoadReport, Logger, TaskExecutor, TaskMessage } from '@taskmesh/shared';
import { parsePayload } from './task-types/parse-payload.js';
import type { HandlerContext, TaskTypeModule } from './task-types/task-type.js';

/** What the transport's TaskServer hands the executor with each task (its TaskContext). */
export interface QueueTaskContext {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Calls `listener` once if the task is aborted (cancel, shutdown); no AbortController needed. */
  onAbort(listener: (reason: unknown) => void): void;
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
  /**
   * Called just before handlers are started from the queue: a synchronous handler holds the
   * thread until it returns, so what is waiting to be sent (the tasks' acknowledgements) goes now.
   */
  beforeRun?: () => void;
}

interface Entry {
  task: TaskMessage;
  payload: unknown;
  ctx: QueueTaskContext;
  /** Made when the handler first looks at its signal: most handlers never do (lazySignal). */
  controller: AbortController | undefined;
  /** Why the task was aborted (the caller's cancel or the task's deadline), once it was. */
  abortReason: TaskmeshError | undefined;
  deadline: NodeJS.Timeout | undefined;
  settled: boolean;
  resolve(value: unknown): void;
  reject(err: TaskmeshError | TaskError): void;
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
  private readonly beforeRun: (() => void) | undefined;
  private readonly waiting: Entry[] = [];
  private running = 0;
  private pumpScheduled = false;
  /** winston formats every call whatever the level: hot-path debug lines are skipped up front. */
  private readonly debug: boolean;

  constructor(options: TaskQueueOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be an integer >= 1');
    if (!Number.isInteger(options.queueSize) || options.queueSize < 0) throw new RangeError('queueSize must be an integer >= 0');
    this.type = options.type;
    this.concurrency = options.concurrency;
    this.queueSize = options.queueSize;
    this.workerName = options.workerName;
    this.logger = options.logger ?? silentLogger();
    this.debug = this.logger.isDebugEnabled();
    this.now = options.now ?? (() => new Date());
    this.onLoadChange = options.onLoadChange;
    this.beforeRun = options.beforeRun;
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

    const quick = this.type.quick?.(payload) === true;
    return new Promise<unknown>((resolve, reject) => {
      const entry: Entry = {
        task,
        payload,
        ctx,
        controller: undefined,
        abortReason: undefined,
        deadline: undefined,
        settled: false,
        resolve,
        reject,
      };
      ctx.onAbort((reason) =>
        this.abort(entry, reason instanceof TaskmeshError ? reason : new TaskmeshError('CANCELLED', 'cancelled by the caller')),
      );
      if (entry.settled) return;
      if (quick && this.waiting.length === 0 && this.running < this.concurrency) {
        // Runs now: its result leaves with this turn's messages and doubles as the ack.
        this.start(entry);
        if (!entry.settled) this.arm(entry);
        return;
      }
      this.arm(entry);
      this.waiting.push(entry);
      this.changed();
      this.schedulePump();
    });
  }

  /** The task's deadline (its timeoutMs), as TIMEOUT. */
  private arm(entry: Entry): void {
    entry.deadline = setTimeout(this.onDeadline, entry.task.timeoutMs, entry).unref();
  }

  private readonly onDeadline = (entry: Entry): void => {
    this.abort(entry, new TaskmeshError('TIMEOUT', `task ran past its ${entry.task.timeoutMs} ms deadline`));
  };

  /** Settles an aborted task at once; a running handler keeps its slot until it returns. */
  private abort(entry: Entry, reason: TaskmeshError): void {
    if (entry.settled || !abortLazily(entry, reason)) return;
    const index = this.waiting.indexOf(entry);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.changed();
    }
    this.settle(entry, { error: reason });
  }

  private settle(entry: Entry, outcome: { value: unknown } | { error: TaskmeshError | TaskError }): void {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.deadline);
    if ('value' in outcome) entry.resolve(outcome.value);
    else entry.reject(outcome.error);
  }

  /**
   * Handlers start one event-loop turn later rather than inside offer(), so the tasks that came in
   * together are all accepted first; `beforeRun` then sends their acks before any handler starts: a
   * synchronous handler (an image) must not hold them back, or the caller would retransmit and give
   * the task up while it runs.
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

  /** Starts at most the free slots: a synchronous handler frees its slot at once, and the next
   *  tasks wait for the next pump so acks and keep-alives get their turn between them. */
  private pump(): void {
    if (this.waiting.length === 0 || this.running >= this.concurrency) return;
    this.beforeRun?.();
    for (let free = this.concurrency - this.running; free > 0; free--) {
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
    if (this.debug)
      this.logger.debug('task started', { event: 'task-started', taskId: task.taskId, type: task.type, attempt: task.attempt });
    let value: unknown;
    try {
      value = this.type.handle(entry.payload, new RunContext(entry, this.workerName, this.now));
    } catch (err) {
      this.ended(entry, startedAt, this.failure(entry, err), undefined);
      return;
    }
    if (!isPromiseLike(value)) {
      this.ended(entry, startedAt, undefined, value);
      return;
    }
    value.then(
      (result) => this.ended(entry, startedAt, undefined, result),
      (err: unknown) => this.ended(entry, startedAt, this.failure(entry, err), undefined),
    );
  }

  /**
   * A handler's failure: its own TaskError or TaskmeshError goes to the caller as it is; anything
   * else is HANDLER_FAILED with its message, and its stack is logged here, never sent.
   */
  private failure(entry: Entry, err: unknown): TaskmeshError | TaskError {
    if (err instanceof TaskError || err instanceof TaskmeshError) return err;
    this.logger.warn('task handler failed', {
      event: 'handler-failed',
      taskId: entry.task.taskId,
      type: entry.task.type,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return toTaskmeshError(err, 'HANDLER_FAILED');
  }

  private ended(entry: Entry, startedAt: number, failure: TaskmeshError | TaskError | undefined, value: unknown): void {
    let error = failure;
    if (error === undefined && this.type.result !== undefined) {
      const checked = this.type.result.safeParse(value);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        error = new TaskmeshError(
          'HANDLER_FAILED',
          `the result does not match the ${this.type.name} result schema: ${issue === undefined ? '' : `${issue.path.join('.') || 'result'}: ${issue.message}`}`,
        );
      }
    }
    this.settle(entry, error === undefined ? { value } : { error });
    if (this.debug) {
      const ms = Math.round(performance.now() - startedAt);
      this.logger.debug('task finished', {
        event: 'task-finished',
        taskId: entry.task.taskId,
        ok: error === undefined,
        code: error?.code,
        ms,
      });
    }
    this.running -= 1;
    this.changed();
    if (this.waiting.length > 0) this.schedulePump();
  }

  private changed(): void {
    this.onLoadChange?.(this.load());
  }
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

/** What a running handler sees; its AbortSignal is made only if the handler asks for it. */
class RunContext implements HandlerContext {
  constructor(
    private readonly entry: Entry,
    readonly workerName: string,
    readonly now: () => Date,
  ) {}

  get signal(): AbortSignal {
    return lazySignal(this.entry);
  }

  progress(fraction: number): void {
    if (!this.entry.settled && Number.isFinite(fraction)) this.entry.ctx.progress(Math.min(1, Math.max(0, fraction)));
  }
}
