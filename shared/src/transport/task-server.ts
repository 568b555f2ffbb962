import { backoffDelay } from '../backoff.js';
import { TaskmeshError, toTaskmeshError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Message, Outgoing, ResultMessage, ResultOutcome, TaskMessage } from '../protocol.js';
import {
  DEFAULT_RETRANSMIT,
  KEEPALIVE_INTERVAL_MS,
  PROGRESS_MIN_INTERVAL_MS,
  RESULT_CACHE_MAX,
  RESULT_CACHE_TTL_MS,
  type RetransmitPolicy,
} from './constants.js';
import type { Address } from './endpoint-stats.js';
import type { TaskContext, TaskExecutor } from './task-context.js';
import type { UdpEndpoint } from './udp-endpoint.js';

export interface TaskServerOptions {
  endpoint: UdpEndpoint;
  executor: TaskExecutor;
  workerName: string;
  logger?: Logger;
  resultCacheTtlMs?: number;
  resultCacheMax?: number;
  keepaliveIntervalMs?: number;
  retransmit?: Partial<RetransmitPolicy>;
}

export interface TaskServerStats {
  accepted: number;
  busy: number;
  rejected: number;
  duplicates: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/** One task the server knows: queued, running, or finished and cached. */
interface Entry {
  taskId: string;
  attempt: number;
  /** Results go where the task (or its latest retransmission) came from. */
  from: Address;
  state: 'queued' | 'running' | 'done';
  receivedAt: number;
  progress: number | null;
  progressSentAt: number;
  controller: AbortController | undefined;
  result: Outgoing<ResultMessage> | undefined;
  awaitingAck: boolean;
  retransmits: number;
  timer: NodeJS.Timeout | undefined;
  finishedAt: number;
}

/**
 * The worker's half of the task protocol. Tasks are deduplicated by id: a retransmitted task that
 * is queued or running is acknowledged again, one that finished recently is answered from the
 * result cache (bounded in size and age), so nothing runs twice; only a task with a higher attempt
 * than a cached *failed* result runs again. Results are retransmitted until `result-ack`.
 */
export class TaskServer {
  private readonly endpoint: UdpEndpoint;
  private readonly executor: TaskExecutor;
  private readonly workerName: string;
  private readonly logger: Logger;
  private readonly policy: RetransmitPolicy;
  private readonly cacheTtlMs: number;
  private readonly cacheMax: number;
  private readonly entries = new Map<string, Entry>();
  /** Queued or running, for the keep-alive. */
  private readonly live = new Set<Entry>();
  /** Finished, in finishing order, so the cache expires from the front. */
  private readonly finished = new Map<string, Entry>();
  private unacked = 0;
  private readonly counts: TaskServerStats = { accepted: 0, busy: 0, rejected: 0, duplicates: 0, completed: 0, failed: 0, cancelled: 0 };
  private readonly keepalive: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private draining = false;
  private closed = false;
  private drainWaiters: (() => void)[] = [];

  constructor(options: TaskServerOptions) {
    this.endpoint = options.endpoint;
    this.executor = options.executor;
    this.workerName = options.workerName;
    this.logger = options.logger ?? silentLogger();
    this.policy = { ...DEFAULT_RETRANSMIT, ...options.retransmit };
    this.cacheTtlMs = options.resultCacheTtlMs ?? RESULT_CACHE_TTL_MS;
    this.cacheMax = options.resultCacheMax ?? RESULT_CACHE_MAX;
    // One timer for all tasks; the socket, not this timer, keeps the process alive.
    this.keepalive = setInterval(() => this.tick(), options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS).unref();
    this.unsubscribe = this.endpoint.onMessage(this.onMessage);
  }

  /**
   * Answers every new task BUSY from now on; resolves when in-flight tasks have finished and their
   * results were acknowledged (or retransmission gave up).
   */
  drain(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.checkDrained();
    });
  }

  /** Stops timers and aborts running tasks (reason SHUTTING_DOWN). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    clearInterval(this.keepalive);
    this.unsubscribe();
    const reason = new TaskmeshError('SHUTTING_DOWN', 'the worker is shutting down');
    for (const entry of this.live) abortEntry(entry, reason);
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.live.clear();
    this.unacked = 0;
    this.checkDrained();
  }

  stats(): TaskServerStats {
    return { ...this.counts };
  }

  private readonly onMessage = (message: Message, from: Address): void => {
    switch (message.kind) {
      case 'task':
        this.onTask(message, from);
        return;
      case 'result-ack': {
        const entry = this.entries.get(message.taskId);
        if (entry?.awaitingAck === true) this.stopResend(entry);
        return;
      }
      case 'cancel': {
        const entry = this.entries.get(message.taskId);
        if (entry !== undefined && entry.state !== 'done' && entry.controller?.signal.aborted !== true) {
          this.counts.cancelled++;
          abortEntry(entry, new TaskmeshError('CANCELLED', `task ${entry.taskId} was cancelled by the caller`));
        }
        this.endpoint.send({ kind: 'cancel-ack', taskId: message.taskId, found: entry !== undefined }, from);
        return;
      }
      case 'ack':
      case 'progress':
      case 'result':
      case 'cancel-ack':
        return; // the caller's side (TaskCaller)
      default: {
        const never: never = message;
        return never;
      }
    }
  };

  private onTask(task: TaskMessage, from: Address): void {
    const known = this.entries.get(task.taskId);
    if (known !== undefined) {
      const failed = known.result !== undefined && !known.result.outcome.ok;
      if (known.state === 'done' && failed && task.attempt > known.attempt) {
        this.forget(known); // a retry of a failed task runs again
      } else {
        this.counts.duplicates++;
        known.from = from;
        if (known.state !== 'done') this.ack(task.taskId, 'accepted', from);
        else if (known.result !== undefined) this.endpoint.send(known.result, from);
        return;
      }
    }
    if (this.draining) {
      this.counts.busy++;
      this.ack(task.taskId, 'busy', from);
      return;
    }
    const now = Date.now();
    const entry: Entry = {
      taskId: task.taskId,
      attempt: task.attempt,
      from,
      state: 'queued',
      receivedAt: now,
      progress: null,
      progressSentAt: now,
      controller: undefined,
      result: undefined,
      awaitingAck: false,
      retransmits: 0,
      timer: undefined,
      finishedAt: 0,
    };
    let running: Promise<unknown> | 'busy';
    try {
      running = this.executor.offer(task, this.contextOf(entry));
    } catch (err) {
      this.counts.rejected++;
      const error = toTaskmeshError(err, 'INTERNAL');
      if (!(err instanceof TaskmeshError)) this.logger.warn('executor threw a non-TaskmeshError', { taskId: task.taskId, error: error.message });
      this.ack(task.taskId, 'rejected', from, { code: error.code, message: error.message });
      return;
    }
    if (running === 'busy') {
      this.counts.busy++;
      this.ack(task.taskId, 'busy', from);
      return;
    }
    this.counts.accepted++;
    this.entries.set(task.taskId, entry);
    this.live.add(entry);
    this.ack(task.taskId, 'accepted', from);
    running.then(
      (value) => this.finish(entry, { ok: true, value: value ?? null }),
      (err: unknown) => {
        const error = toTaskmeshError(err, 'HANDLER_FAILED');
        this.finish(entry, { ok: false, error: { code: error.code, message: error.message } });
      },
    );
  }

  private contextOf(entry: Entry): TaskContext {
    const server = this;
    let logger: Logger | undefined;
    // Signal and logger are made on first use: most tasks never look at them.
    return {
      get signal() {
        entry.controller ??= new AbortController();
        return entry.controller.signal;
      },
      get logger() {
        logger ??= server.logger.child({ taskId: entry.taskId });
        return logger;
      },
      started() {
        if (entry.state !== 'queued') return;
        entry.state = 'running';
        server.reportProgress(entry);
      },
      progress(fraction: number) {
        if (entry.state === 'done' || !Number.isFinite(fraction)) return;
        entry.progress = Math.min(1, Math.max(0, fraction));
        server.reportProgress(entry);
      },
    };
  }

  private ack(taskId: string, status: 'accepted' | 'busy' | 'rejected', to: Address, error?: { code: string; message: string }): void {
    const load = this.executor.load();
    this.endpoint.send(error === undefined ? { kind: 'ack', taskId, status, load } : { kind: 'ack', taskId, status, load, error }, to);
  }

  /** Throttled: the ack counts as the first report and the keep-alive carries the latest figure. */
  private reportProgress(entry: Entry): void {
    if (this.closed) return;
    const now = Date.now();
    if (now - entry.progressSentAt < PROGRESS_MIN_INTERVAL_MS) return;
    this.sendProgress(entry, now);
  }

  private sendProgress(entry: Entry, now: number): void {
    entry.progressSentAt = now;
    const state = entry.state === 'running' ? 'running' : 'queued';
    this.endpoint.send({ kind: 'progress', taskId: entry.taskId, progress: entry.progress, state }, entry.from);
  }

  private finish(entry: Entry, outcome: ResultOutcome): void {
    if (this.closed || entry.state === 'done') return;
    entry.state = 'done';
    entry.finishedAt = Date.now();
    entry.controller = undefined;
    this.live.delete(entry);
    this.finished.set(entry.taskId, entry);
    let result: Outgoing<ResultMessage> = {
      kind: 'result',
      taskId: entry.taskId,
      outcome,
      worker: this.workerName,
      durationMs: entry.finishedAt - entry.receivedAt,
    };
    try {
      this.endpoint.send(result, entry.from);
    } catch (err) {
      // A value too large or not serialisable fails the task instead of vanishing.
      const error = toTaskmeshError(err, 'HANDLER_FAILED');
      result = { ...result, outcome: { ok: false, error: { code: error.code, message: error.message } } };
      this.endpoint.send(result, entry.from);
    }
    if (result.outcome.ok) this.counts.completed++;
    else this.counts.failed++;
    entry.result = result;
    entry.awaitingAck = true;
    this.unacked++;
    entry.timer = setTimeout(() => this.resend(entry), backoffDelay(this.policy, 0));
    this.expire(entry.finishedAt);
  }

  private resend(entry: Entry): void {
    if (!entry.awaitingAck || entry.result === undefined) return;
    if (entry.retransmits >= this.policy.maxRetransmits) {
      this.logger.debug('result not acknowledged, giving up', { taskId: entry.taskId, retransmits: entry.retransmits });
      this.stopResend(entry);
      return;
    }
    entry.retransmits++;
    this.endpoint.noteRetransmit();
    this.endpoint.send(entry.result, entry.from);
    entry.timer = setTimeout(() => this.resend(entry), backoffDelay(this.policy, entry.retransmits));
  }

  private stopResend(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.awaitingAck) {
      entry.awaitingAck = false;
      this.unacked--;
    }
    this.checkDrained();
  }

  private forget(entry: Entry): void {
    this.stopResend(entry);
    this.entries.delete(entry.taskId);
    this.finished.delete(entry.taskId);
  }

  /** Drops finished tasks past the cache's age or size (oldest first). */
  private expire(now: number): void {
    for (const entry of this.finished.values()) {
      if (this.finished.size <= this.cacheMax && now - entry.finishedAt < this.cacheTtlMs) break;
      this.forget(entry);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.live) this.sendProgress(entry, now);
    this.expire(now);
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0) return;
    if (!this.closed && (this.live.size > 0 || this.unacked > 0)) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function abortEntry(entry: Entry, reason: TaskmeshError): void {
  entry.controller ??= new AbortController();
  if (!entry.controller.signal.aborted) entry.controller.abort(reason);
}
