import { TaskmeshError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import {
  MAX_RESULT_ACK_IDS,
  type LoadReport,
  type Message,
  type Outgoing,
  type ResultOutcome,
  type TaskMessage,
  type WireError,
} from '../protocol.js';
import { DEFAULT_RETRANSMIT, KEEPALIVE_TIMEOUT_MS, type RetransmitPolicy } from './constants.js';
import { addressKey, type Address } from './endpoint-stats.js';
import { LinkMonitor, type LinkHealth } from './link-health.js';
import { RttEstimator } from './rtt-estimator.js';
import { AddressMap } from './address-map.js';
import { Flights, type Flight } from './flights.js';
import { datagramPayloadLimit } from './coalescer.js';
import type { UdpEndpoint } from './udp-endpoint.js';

/** A result-ack's bytes besides its ids: `[{"v":2,"kind":"result-ack","taskIds":[...]}]`, with room to spare. */
const RESULT_ACK_OVERHEAD_BYTES = 64;

/** What to send where: one attempt of one task. */
export interface DispatchTarget {
  to: Address;
  taskId: string;
  type: string;
  /** The task's payload; a JsonText goes out as its text (see encodeMessage). */
  payload: unknown;
  attempt: number;
  timeoutMs: number;
  /** See TaskMessage.redelivery. */
  redelivery?: boolean;
  /** See TaskMessage.traceparent. */
  traceparent?: string | undefined;
}

/**
 * The callback form of a dispatch (`TaskCaller.start`), for callers that run many: no Promise,
 * closure or signal per dispatch. `settled` is called exactly once, synchronously from the
 * message (or timer) that settles it; a throwing listener is logged, never breaks the protocol.
 */
export interface DispatchListener {
  /** The worker acknowledged the task (`accepted`). */
  accepted(load: LoadReport): void;
  progress(progress: number | null, state: 'queued' | 'running'): void;
  /** `retransmits`: how many times the task message was sent again for this dispatch. */
  settled(outcome: DispatchOutcome | TaskmeshError, retransmits?: number): void;
}

export type DispatchOutcome =
  /** Worker full: try another. */
  | { kind: 'busy'; load: LoadReport }
  /** The worker refused the task (bad payload, wrong type): final. */
  | { kind: 'rejected'; error: WireError; load: LoadReport }
  | { kind: 'result'; outcome: ResultOutcome; worker: string; durationMs: number };

export interface TaskCallerOptions {
  endpoint: UdpEndpoint;
  logger?: Logger;
  retransmit?: Partial<RetransmitPolicy>;
  keepaliveTimeoutMs?: number;
  /** Sent with every task (TaskMessage.origin): who this caller is, across restarts. */
  origin?: string;
}

interface Dispatch {
  target: DispatchTarget;
  listener: DispatchListener;
  task: Outgoing<TaskMessage>;
  phase: 'sending' | 'accepted';
  sentAt: number;
  retransmits: number;
  /** While sending: the flight whose timer retransmits it. */
  flight: Flight<Dispatch> | undefined;
  /** Once accepted: the keep-alive timer. */
  timer: NodeJS.Timeout | undefined;
}

/** A cancel sent and not yet acknowledged (cancel-ack, or the task's result). */
interface PendingCancel {
  taskId: string;
  to: Address;
  flight: Flight<PendingCancel> | undefined;
}

/**
 * The caller's half of the task protocol (dispatcher, bench). A task is retransmitted with backoff
 * until the worker acknowledges it; an accepted task is then kept alive by the worker's `progress`
 * messages until its `result`, which is acknowledged (one cumulative `result-ack` per worker per
 * turn). Messages are matched by task id. Tasks sent to one worker in one turn share one
 * retransmission timer (a Flight); an accepted task then holds its own keep-alive timer.
 */
export class TaskCaller {
  private readonly endpoint: UdpEndpoint;
  private readonly logger: Logger;
  private readonly policy: RetransmitPolicy;
  private readonly rtt: RttEstimator;
  private readonly keepaliveTimeoutMs: number;
  private readonly dispatches = new Map<string, Dispatch>();
  private readonly cancels = new Map<string, PendingCancel>();
  /** Results received this turn, by worker: acknowledged together when the endpoint flushes. */
  private readonly resultAcks = new AddressMap<{ to: Address; taskIds: string[] }>();
  private readonly flights: Flights<Dispatch>;
  /** Cancels wait for their acks in flights too, retransmitted together. */
  private readonly cancelFlights: Flights<PendingCancel>;
  private readonly unsubscribe: () => void;
  private readonly unhook: () => void;
  private closed = false;
  private readonly origin: string | undefined;
  /** Answers for a task in flight that came from an endpoint other than the one it was sent to. */
  foreignAnswers = 0;
  private readonly links = new LinkMonitor();

  constructor(options: TaskCallerOptions) {
    this.endpoint = options.endpoint;
    this.logger = options.logger ?? silentLogger();
    this.policy = { ...DEFAULT_RETRANSMIT, ...options.retransmit };
    this.rtt = new RttEstimator(this.policy);
    this.keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS;
    this.origin = options.origin;
    this.unsubscribe = this.endpoint.onMessage(this.onMessage);
    this.flights = new Flights<Dispatch>({ delay: (to, n) => this.rtt.delay(to, n), expired: this.flightExpired });
    this.cancelFlights = new Flights<PendingCancel>({ delay: (to, n) => this.rtt.delay(to, n), expired: this.cancelsExpired });
    this.unhook = this.endpoint.beforeFlush(this.turnEnds);
  }

  /**
   * Sends one attempt of a task: the listener hears of acceptance, progress and the outcome.
   * Throws (nothing is sent) SHUTTING_DOWN when closed, CONFLICT when the task is being
   * dispatched already, PAYLOAD_TOO_LARGE / INVALID_PAYLOAD when the task cannot be sent.
   */
  start(target: DispatchTarget, listener: DispatchListener): void {
    if (this.closed) throw new TaskmeshError('SHUTTING_DOWN', 'the task caller is closed');
    const { taskId, type, payload, attempt, timeoutMs } = target;
    if (this.dispatches.has(taskId)) throw new TaskmeshError('CONFLICT', `task ${taskId} is already being dispatched`);
    // JSON has no undefined: a missing payload would fail the schema at the worker.
    const task: Outgoing<TaskMessage> = { kind: 'task', taskId, type, payload: payload ?? null, attempt, timeoutMs };
    if (this.origin !== undefined) task.origin = this.origin;
    if (target.redelivery === true) task.redelivery = true;
    if (target.traceparent !== undefined) task.traceparent = target.traceparent;
    this.endpoint.send(task, target.to);
    this.links.sent(target.to, false);
    const d: Dispatch = {
      target,
      listener,
      task,
      phase: 'sending',
      sentAt: Date.now(),
      retransmits: 0,
      flight: undefined,
      timer: undefined,
    };
    this.dispatches.set(taskId, d);
    // Tasks sent to one worker in one turn wait for their acks under one timer.
    this.flights.join(d, target.to);
  }

  /**
   * Settles a dispatch in flight with `reason` and cancels the task at the worker (`cancel`,
   * retransmitted until cancel-ack). With `listener`, only that dispatch of the task.
   */
  abort(taskId: string, reason: TaskmeshError, listener?: DispatchListener): void {
    const d = this.dispatches.get(taskId);
    if (d === undefined || (listener !== undefined && d.listener !== listener)) return;
    this.settle(d, reason);
    this.startCancel(taskId, d.target.to);
  }

  /**
   * The worker at `peer` is gone (its supervisor said so): every dispatch to it settles now with
   * `reason` instead of waiting for its keep-alive or retransmission timer, and cancels waiting for
   * its ack are dropped. Returns how many dispatches were settled.
   */
  failPeer(peer: Address, reason: TaskmeshError): number {
    const key = addressKey(peer);
    const same = (to: Address): boolean => (peer.id !== undefined && to.id !== undefined ? to.id === peer.id : addressKey(to) === key);
    let settled = 0;
    for (const d of [...this.dispatches.values()]) {
      if (!same(d.target.to)) continue;
      this.settle(d, reason);
      settled++;
    }
    for (const c of [...this.cancels.values()]) if (same(c.to)) this.stopCancel(c.taskId);
    return settled;
  }

  /** How the link to `peer` behaves (RTT, retransmissions, BUSY answers, last answer), or null if no task went there. */
  linkHealth(peer: Address): LinkHealth | null {
    return this.links.health(peer, this.rtt.snapshot(peer));
  }

  /** Dispatches not yet settled. */
  inFlight(): number {
    return this.dispatches.size;
  }

  /** Rejects pending dispatches with SHUTTING_DOWN and stops every timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.unhook();
    this.sendResultAcks();
    this.flights.clear();
    for (const d of [...this.dispatches.values()]) this.settle(d, new TaskmeshError('SHUTTING_DOWN', 'the task caller is closing'));
    this.cancelFlights.clear();
    this.cancels.clear();
  }

  private readonly onMessage = (message: Message, from: Address & { id: string }): void => {
    switch (message.kind) {
      case 'ack': {
        const d = this.dispatches.get(message.taskId);
        if (d === undefined || !isTarget(d.target.to, from)) return;
        if (d.phase === 'accepted') {
          d.timer?.refresh();
          return;
        }
        if (d.retransmits === 0) this.rtt.sample(d.target.to, Date.now() - d.sentAt);
        this.links.answered(d.target.to, message.status === 'busy');
        if (message.status === 'busy') this.settle(d, { kind: 'busy', load: message.load });
        else if (message.status === 'rejected') {
          const error = message.error ?? { code: 'INTERNAL', message: 'the worker rejected the task without a reason' };
          this.settle(d, { kind: 'rejected', error, load: message.load });
        } else {
          d.phase = 'accepted';
          this.flights.leave(d);
          d.timer = setTimeout(this.onSilent, this.keepaliveTimeoutMs, d);
          try {
            d.listener.accepted(message.load);
          } catch (err) {
            this.callbackFailed(err);
          }
        }
        return;
      }
      case 'progress': {
        const d = this.dispatches.get(message.taskId);
        // Before the ack the retransmission answers acceptance; progress only counts once accepted.
        if (d === undefined || d.phase !== 'accepted' || !isTarget(d.target.to, from)) return;
        d.timer?.refresh();
        try {
          d.listener.progress(message.progress, message.state);
        } catch (err) {
          this.callbackFailed(err);
        }
        return;
      }
      case 'result': {
        // Always acknowledged, also for dispatches already settled, so the worker stops resending.
        this.ackResult(message.taskId, from);
        this.stopCancel(message.taskId);
        const d = this.dispatches.get(message.taskId);
        // Only the endpoint the task was sent to can settle it: another worker (or a frame replayed
        // from one) answering for the id is ignored.
        if (d === undefined || !isTarget(d.target.to, from)) {
          if (d !== undefined) this.foreignAnswers++;
          return;
        }
        // A fast task is answered by its result alone (no ack): that is a round trip too.
        if (d.phase === 'sending' && d.retransmits === 0) this.rtt.sample(d.target.to, Date.now() - d.sentAt);
        if (d.phase === 'sending') this.links.answered(d.target.to, false);
        this.settle(d, { kind: 'result', outcome: message.outcome, worker: message.worker, durationMs: message.durationMs });
        return;
      }
      case 'cancel-ack':
        this.stopCancel(message.taskId);
        return;
      case 'task':
      case 'cancel':
      case 'result-ack':
        return; // the worker's side (TaskServer)
      default: {
        const never: never = message;
        return never;
      }
    }
  };

  /**
   * Tasks of a flight still unacknowledged (an ack, a result or a settlement takes a dispatch out of
   * its flight): sent again together, or NO_ACK after the last retransmission.
   */
  private readonly flightExpired = (flight: Flight<Dispatch>, waiting: Dispatch[]): void => {
    if (flight.retransmits >= this.policy.maxRetransmits) {
      const to = addressKey(flight.to);
      for (const d of waiting) {
        this.settle(
          d,
          new TaskmeshError(
            'NO_ACK',
            `no acknowledgement from the worker at ${to} for task ${d.target.taskId} after ${d.retransmits} retransmissions`,
          ),
        );
      }
      return;
    }
    if (this.endpoint.delivering(flight.to)) {
      // Large messages to this worker are still leaving (paced, flow-controlled): no answer was due yet.
      this.flights.again(flight, waiting);
      return;
    }
    this.rtt.timedOut(flight.to);
    const next = this.flights.launch(flight.to, flight.retransmits + 1);
    for (const d of waiting) {
      d.retransmits++;
      this.endpoint.noteRetransmit();
      this.endpoint.send(d.task, d.target.to);
      this.links.sent(d.target.to, true);
      next.add(d);
    }
  };

  private readonly onSilent = (d: Dispatch): void => {
    if (this.dispatches.get(d.target.taskId) !== d) return;
    const to = addressKey(d.target.to);
    this.settle(
      d,
      new TaskmeshError(
        'WORKER_LOST',
        `the worker at ${to} went silent for ${this.keepaliveTimeoutMs} ms while holding task ${d.target.taskId}`,
      ),
    );
  };

  private settle(d: Dispatch, outcome: DispatchOutcome | TaskmeshError): void {
    this.flights.leave(d);
    clearTimeout(d.timer);
    this.dispatches.delete(d.target.taskId);
    try {
      d.listener.settled(outcome, d.retransmits);
    } catch (err) {
      this.callbackFailed(err);
    }
  }

  /** At the endpoint's flush: this turn's tasks leave, and its results are acknowledged. */
  private readonly turnEnds = (): void => {
    this.flights.closeTurn();
    this.cancelFlights.closeTurn();
    this.sendResultAcks();
  };

  private ackResult(taskId: string, from: Address): void {
    let acks = this.resultAcks.get(from);
    if (acks === undefined) {
      acks = { to: from, taskIds: [] };
      this.resultAcks.set(from, acks);
      this.endpoint.requestFlush();
    }
    acks.taskIds.push(taskId);
  }

  /**
   * Runs as the endpoint flushes: one `result-ack` per worker for the turn's results, split so each
   * fits one datagram on the path (ids are JSON strings: their length plus quotes and a comma).
   */
  private readonly sendResultAcks = (): void => {
    if (this.resultAcks.size === 0) return;
    this.resultAcks.forEach(({ to, taskIds }) => {
      const room = datagramPayloadLimit(to) - RESULT_ACK_OVERHEAD_BYTES;
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < taskIds.length; i++) {
        const size = (taskIds[i] as string).length + 3;
        if (i > start && (bytes + size > room || i - start >= MAX_RESULT_ACK_IDS)) {
          this.endpoint.send({ kind: 'result-ack', taskIds: taskIds.slice(start, i) }, to);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      this.endpoint.send({ kind: 'result-ack', taskIds: start === 0 ? taskIds : taskIds.slice(start) }, to);
    });
    this.resultAcks.clear();
  };

  private startCancel(taskId: string, to: Address): void {
    if (this.closed || this.cancels.has(taskId)) return;
    const c: PendingCancel = { taskId, to, flight: undefined };
    this.cancels.set(taskId, c);
    this.endpoint.send({ kind: 'cancel', taskId }, to);
    this.cancelFlights.join(c, to);
  }

  /** Cancels of a flight still unacknowledged: sent again together, or given up after the last retransmission. */
  private readonly cancelsExpired = (flight: Flight<PendingCancel>, waiting: PendingCancel[]): void => {
    if (flight.retransmits >= this.policy.maxRetransmits) {
      for (const c of waiting) {
        this.cancels.delete(c.taskId);
        this.logger.debug('cancel not acknowledged, giving up', { taskId: c.taskId, to: addressKey(c.to) });
      }
      return;
    }
    const next = this.cancelFlights.launch(flight.to, flight.retransmits + 1);
    for (const c of waiting) {
      this.endpoint.noteRetransmit();
      this.endpoint.send({ kind: 'cancel', taskId: c.taskId }, c.to);
      next.add(c);
    }
  };

  private stopCancel(taskId: string): void {
    const c = this.cancels.get(taskId);
    if (c === undefined) return;
    this.cancelFlights.leave(c);
    this.cancels.delete(taskId);
  }

  /** A throwing user callback must not break the protocol. */
  private callbackFailed(err: unknown): void {
    this.logger.error('dispatch callback failed', { error: (err as Error).message });
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Whether a message from `from` answers a dispatch to `to`: the same endpoint id (signed into its
 * frames) when the target's id is known, and the same address when the target is an IP address
 * (a host name may resolve to an address the reply does not show).
 */
function isTarget(to: Address, from: Address & { id: string }): boolean {
  if (to.id !== undefined && to.id !== from.id) return false;
  if ((IPV4.test(to.host) || to.host.includes(':')) && (to.host !== from.host || to.port !== from.port)) return false;
  return true;
}
