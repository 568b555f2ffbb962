import { parseTraceparent, randomSpanId } from '../tracing/traceparent.js';
import type { SpanExport } from '../tracing/span-export.js';
import { TaskmeshError, handlerFailure, toTaskmeshError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Message, Outgoing, ResultMessage, ResultOutcome, TaskMessage } from '../protocol.js';
import {
  DEFAULT_RETRANSMIT,
  KEEPALIVE_INTERVAL_MS,
  PROGRESS_MIN_INTERVAL_MS,
  RESULT_CACHE_MAX,
  RESULT_CACHE_MAX_BYTES,
  RESULT_CACHE_TTL_MS,
  type RetransmitPolicy,
} from './constants.js';
import type { Address } from './endpoint-stats.js';
import { HeadQueue } from '../head-queue.js';
import { AddressMap } from './address-map.js';
import { RttEstimator } from './rtt-estimator.js';
import { Flights, type Flight } from './flights.js';
import { ServerTask, type ServerTaskHost } from './server-task.js';
import type { TaskExecutor } from './task-context.js';
import type { UdpEndpoint } from './udp-endpoint.js';

export interface TaskServerOptions {
  endpoint: UdpEndpoint;
  executor: TaskExecutor;
  workerName: string;
  logger?: Logger;
  resultCacheTtlMs?: number;
  resultCacheMax?: number;
  /** Bytes of encoded results the cache holds at most (RESULT_CACHE_MAX_BYTES). */
  resultCacheMaxBytes?: number;
  keepaliveIntervalMs?: number;
  retransmit?: Partial<RetransmitPolicy>;
  /** Where the handler spans of traced tasks go (OTLP), when tracing is on. */
  spans?: SpanExport | null;
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

type AckStatus = 'accepted' | 'busy' | 'rejected';

/** Callers whose last message time is remembered; past it the table restarts. */
const MAX_HEARD_PEERS = 4096;

/**
 * The worker's half of the task protocol. Tasks are deduplicated by id: a retransmitted task that
 * is queued or running is acknowledged again, one that finished recently is answered from the
 * result cache (bounded in size and age), so nothing runs twice; only a task with a higher attempt
 * than a cached *failed* result runs again. Results are retransmitted until `result-ack`.
 */
export class TaskServer implements ServerTaskHost {
  readonly logger: Logger;
  private readonly endpoint: UdpEndpoint;
  private readonly executor: TaskExecutor;
  private readonly workerName: string;
  private readonly policy: RetransmitPolicy;
  private readonly rtt: RttEstimator;
  private readonly cacheTtlMs: number;
  private readonly cacheMax: number;
  private readonly cacheMaxBytes: number;
  private cachedBytes = 0;
  /** When each caller was last heard from (any valid message): a silent one gets probes, not resends. */
  private readonly heardAt = new AddressMap<number>(MAX_HEARD_PEERS);
  private readonly tasks = new Map<string, ServerTask>();
  /** Queued or running, for the keep-alive. */
  private readonly live = new Set<ServerTask>();
  /** Finished, in finishing order, so the cache expires from the front. */
  private readonly finished = new HeadQueue<ServerTask>();
  private pendingAcks: ServerTask[] = [];
  private unacked = 0;
  private readonly counts: TaskServerStats = { accepted: 0, busy: 0, rejected: 0, duplicates: 0, completed: 0, failed: 0, cancelled: 0 };
  private readonly keepalive: NodeJS.Timeout;
  /** Results waiting for acknowledgement: one retransmission timer per caller per turn. */
  private readonly flights: Flights<ServerTask>;
  private readonly unsubscribe: () => void;
  private readonly unhook: () => void;
  private draining = false;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private readonly spans: SpanExport | null;

  constructor(options: TaskServerOptions) {
    this.endpoint = options.endpoint;
    this.spans = options.spans ?? null;
    this.executor = options.executor;
    this.workerName = options.workerName;
    this.logger = options.logger ?? silentLogger();
    this.policy = { ...DEFAULT_RETRANSMIT, ...options.retransmit };
    this.rtt = new RttEstimator(this.policy);
    this.cacheTtlMs = options.resultCacheTtlMs ?? RESULT_CACHE_TTL_MS;
    this.cacheMax = options.resultCacheMax ?? RESULT_CACHE_MAX;
    this.cacheMaxBytes = options.resultCacheMaxBytes ?? RESULT_CACHE_MAX_BYTES;
    // One timer for all tasks; the socket, not this timer, keeps the process alive.
    this.keepalive = setInterval(() => this.tick(), options.keepaliveIntervalMs ?? KEEPALIVE_INTERVAL_MS).unref();
    this.unsubscribe = this.endpoint.onMessage(this.onMessage);
    this.flights = new Flights<ServerTask>({ delay: (to, n) => this.rtt.delay(to, n), expired: this.resendFlight });
    this.unhook = this.endpoint.beforeFlush(() => this.flights.closeTurn());
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
    for (const task of this.live) task.abort(reason);
    this.flights.clear();
    this.unhook();
    this.live.clear();
    this.unacked = 0;
    this.checkDrained();
  }

  stats(): TaskServerStats {
    return { ...this.counts };
  }

  /** Bytes of results held by the result cache now (bounded by resultCacheMaxBytes). */
  get resultCacheBytes(): number {
    return this.cachedBytes;
  }

  /** Throttled: the ack counts as the first report and the keep-alive carries the latest figure. */
  reportProgress(task: ServerTask): void {
    if (this.closed) return;
    const now = Date.now();
    if (now - task.progressSentAt >= PROGRESS_MIN_INTERVAL_MS) this.sendProgress(task, now);
  }

  private readonly onMessage = (message: Message, from: Address): void => {
    this.heardAt.set(from, Date.now());
    switch (message.kind) {
      case 'task':
        this.onTask(message, from);
        return;
      case 'result-ack': {
        let sampled = false;
        for (const taskId of message.taskIds) {
          const task = this.tasks.get(taskId);
          if (task?.awaitingAck !== true) continue;
          // One round-trip sample per acknowledgement message (its results left together).
          if (!sampled && task.retransmits === 0) {
            this.rtt.sample(task.from, Date.now() - task.resultSentAt);
            sampled = true;
          }
          this.stopResend(task);
        }
        this.checkDrained();
        return;
      }
      case 'cancel': {
        const task = this.tasks.get(message.taskId);
        if (task !== undefined && task.state !== 'done' && !task.aborted) {
          this.counts.cancelled++;
          task.abort(new TaskmeshError('CANCELLED', `task ${task.taskId} was cancelled by the caller`));
        }
        this.endpoint.send({ kind: 'cancel-ack', taskId: message.taskId, found: task !== undefined }, from);
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

  private onTask(message: TaskMessage, from: Address): void {
    const known = this.tasks.get(message.taskId);
    if (known !== undefined) {
      if (known.origin !== message.origin) {
        // Another caller using this task id: never the same task, never rebound to it.
        this.counts.rejected++;
        this.ack(message.taskId, 'rejected', from, { code: 'CONFLICT', message: `task ${message.taskId} belongs to another caller` });
        return;
      }
      const failed = known.result !== undefined && !known.result.outcome.ok;
      // A retry of a failed task runs again; a redelivery (the caller restarted) is answered from state.
      if (known.state === 'done' && failed && message.attempt > known.attempt && message.redelivery !== true) {
        this.forget(known); // a retry of a failed task runs again
      } else {
        this.counts.duplicates++;
        known.from = from;
        if (known.state !== 'done') this.ack(message.taskId, 'accepted', from);
        else if (known.result !== undefined) this.endpoint.send(known.result, from);
        return;
      }
    }
    if (this.draining) {
      this.counts.busy++;
      this.ack(message.taskId, 'busy', from);
      return;
    }
    const task = new ServerTask(this, message.taskId, message.attempt, from, Date.now(), message.origin);
    if (message.traceparent !== undefined && this.spans !== null) task.trace = parseTraceparent(message.traceparent);
    const type = message.type;
    let running: Promise<unknown> | 'busy';
    try {
      running = this.executor.offer(message, task);
    } catch (err) {
      this.counts.rejected++;
      const error = toTaskmeshError(err, 'INTERNAL');
      if (!(err instanceof TaskmeshError))
        this.logger.warn('executor threw a non-TaskmeshError', { taskId: message.taskId, error: error.message });
      this.ack(message.taskId, 'rejected', from, { code: error.code, message: error.message });
      return;
    }
    if (running === 'busy') {
      this.counts.busy++;
      this.ack(message.taskId, 'busy', from);
      return;
    }
    this.counts.accepted++;
    this.tasks.set(message.taskId, task);
    this.live.add(task);
    // The accepted ack waits for the end of this turn: a task that finishes meanwhile is answered
    // by its result alone, saving a message per task on the hot path.
    this.pendingAcks.push(task);
    if (this.pendingAcks.length === 1) setImmediate(this.sendPendingAcks);
    running.then(
      (value) => this.finish(task, { ok: true, value: value ?? null }),
      (err: unknown) => this.finish(task, { ok: false, error: handlerFailure(err) }),
    );
    if (task.trace !== null) void running.finally(() => this.exportSpan(task, type)).catch(() => undefined);
  }

  /**
   * Sends the accepted acknowledgements that wait for the end of this turn now: the executor is
   * about to start handlers that may hold the thread (a synchronous render) for longer than a
   * caller waits for an acknowledgement before it gives the task up.
   */
  flushAcks(): void {
    if (this.pendingAcks.length > 0) this.sendPendingAcks();
    // Acks sent earlier in this turn wait for the endpoint's flush too.
    this.endpoint.flushNow();
  }

  private readonly sendPendingAcks = (): void => {
    const tasks = this.pendingAcks;
    this.pendingAcks = [];
    if (this.closed) return;
    for (const task of tasks) {
      if (task.state !== 'done' && this.tasks.get(task.taskId) === task) this.ack(task.taskId, 'accepted', task.from);
    }
  };

  private ack(taskId: string, status: AckStatus, to: Address, error?: { code: string; message: string }): void {
    const load = this.executor.load();
    this.endpoint.send(error === undefined ? { kind: 'ack', taskId, status, load } : { kind: 'ack', taskId, status, load, error }, to);
  }

  private sendProgress(task: ServerTask, now: number): void {
    task.progressSentAt = now;
    const state = task.state === 'running' ? 'running' : 'queued';
    this.endpoint.send({ kind: 'progress', taskId: task.taskId, progress: task.progressFraction, state }, task.from);
  }

  /** The handler's span, under the attempt's (the dispatcher's), once the task ended here. */
  private exportSpan(task: ServerTask, type: string): void {
    const trace = task.trace!;
    const outcome = task.result?.outcome;
    this.spans?.export([
      {
        name: `taskmesh.handler ${type}`,
        traceId: trace.traceId,
        spanId: randomSpanId(),
        parentSpanId: trace.spanId,
        startMs: task.startedAt || task.receivedAt,
        endMs: task.finishedAt || Date.now(),
        attributes: {
          'taskmesh.worker': this.workerName,
          'taskmesh.task.id': task.taskId,
          'taskmesh.attempt': task.attempt,
          'taskmesh.worker.queued_ms': Math.max(0, (task.startedAt || task.receivedAt) - task.receivedAt),
        },
        error: outcome === undefined || outcome.ok ? undefined : `${outcome.error.code}: ${outcome.error.message}`,
      },
    ]);
  }

  private finish(task: ServerTask, outcome: ResultOutcome): void {
    if (this.closed || task.state === 'done') return;
    task.state = 'done';
    task.finishedAt = Date.now();
    task.release();
    this.live.delete(task);
    this.finished.push(task);
    let result: Outgoing<ResultMessage> = {
      kind: 'result',
      taskId: task.taskId,
      outcome,
      worker: this.workerName,
      durationMs: task.finishedAt - task.receivedAt,
    };
    try {
      task.resultBytes = this.endpoint.send(result, task.from);
    } catch (err) {
      // A value too large or not serialisable fails the task instead of vanishing.
      const error = toTaskmeshError(err, 'HANDLER_FAILED');
      result = { ...result, outcome: { ok: false, error: { code: error.code, message: error.message } } };
      task.resultBytes = this.endpoint.send(result, task.from);
    }
    this.cachedBytes += task.resultBytes;
    if (result.outcome.ok) this.counts.completed++;
    else this.counts.failed++;
    task.result = result;
    task.awaitingAck = true;
    this.unacked++;
    task.resultSentAt = task.finishedAt;
    task.lastSentAt = task.finishedAt;
    // Results finished in one turn for one caller leave together and share one retransmission timer.
    this.flights.join(task, task.from);
    this.expire(task.finishedAt);
  }

  private readonly resendFlight = (flight: Flight<ServerTask>, waiting: ServerTask[]): void => {
    if (this.closed) return;
    if (flight.retransmits >= this.policy.maxRetransmits) {
      this.logger.debug('results not acknowledged, giving up', { count: waiting.length, retransmits: flight.retransmits });
      for (const task of waiting) this.stopResend(task);
      this.checkDrained();
      return;
    }
    if (this.endpoint.delivering(flight.to)) {
      // Large results to this caller are still leaving: no answer was due yet.
      this.flights.again(flight, waiting);
      return;
    }
    this.rtt.timedOut(flight.to);
    const next = this.flights.launch(flight.to, flight.retransmits + 1);
    const heardAt = this.heardAt.get(flight.to) ?? 0;
    const now = Date.now();
    for (const task of waiting) {
      task.retransmits++;
      this.endpoint.noteRetransmit();
      // A caller silent since the last send may not be there at all (a frame replayed from a
      // spoofed address): a large result is only probed with its first chunk, which a live caller
      // answers by asking for the rest. Bytes sent to a peer that never answers stay bounded.
      this.endpoint.send(task.result!, task.from, { probe: heardAt < task.lastSentAt });
      task.lastSentAt = now;
      next.add(task);
    }
  };

  /** The task's result needs no more sending (acknowledged, given up, or forgotten). */
  private stopResend(task: ServerTask): void {
    if (!task.awaitingAck) return;
    task.awaitingAck = false;
    this.unacked--;
    this.flights.leave(task);
  }

  /** Removes a task from the server's memory (its place in `finished` is skipped later). */
  private forget(task: ServerTask): void {
    this.stopResend(task);
    this.cachedBytes -= task.resultBytes;
    task.resultBytes = 0;
    this.checkDrained();
    if (this.tasks.get(task.taskId) === task) this.tasks.delete(task.taskId);
  }

  /** Drops finished tasks past the cache's age or size (oldest first). */
  private expire(now: number): void {
    for (let task = this.finished.peek(); task !== undefined; task = this.finished.peek()) {
      const current = this.tasks.get(task.taskId) === task;
      if (
        current &&
        this.finished.length <= this.cacheMax &&
        this.cachedBytes <= this.cacheMaxBytes &&
        now - task.finishedAt < this.cacheTtlMs
      )
        break;
      this.finished.shift();
      if (current) this.forget(task);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const task of this.live) this.sendProgress(task, now);
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
