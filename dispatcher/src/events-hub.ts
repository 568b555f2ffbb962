import {
  HeadQueue,
  SINCE_TOO_OLD_CLOSE_CODE,
  SLOW_SUBSCRIBER_CLOSE_CODE,
  TaskEventKind,
  TaskmeshError,
  type TaskEvent,
} from '@taskmesh/shared';
import type WebSocket from 'ws';
import type { TaskEntry } from './task-entry.js';

/** Replayed events per piece of a catch-up (one message for batch subscribers). */
const REPLAY_BATCH = 500;
/** Logged events looked at per piece of a catch-up, matching the filter or not. */
const REPLAY_SCAN = 10 * REPLAY_BATCH;

function matches(filter: EventFilter, event: TaskEvent): boolean {
  if (filter.events !== null && !filter.events.has(event.event)) return false;
  if (filter.types !== null && !filter.types.has(event.type)) return false;
  if (filter.taskIds !== null && !filter.taskIds.has(event.taskId)) return false;
  return true;
}

/**
 * Default of TASKMESH_EVENTS_BACKLOG_BYTES: a subscriber that has not taken more than this (what
 * its socket holds, written but unread) when a turn's events begin is closed with
 * SLOW_SUBSCRIBER_CLOSE_CODE: events are never skipped in silence, and never pile up.
 */
export const EVENT_BUFFER_LIMIT_BYTES = 32 * 1024 * 1024;
/** Default of TASKMESH_EVENTS_LOG_SIZE: recent events kept for `since=`. */
const EVENT_LOG_SIZE = 100_000;
/** Sequence numbers are reserved in the journal this many at a time (a restart skips the rest). */
const SEQ_RESERVATION = 1_000_000;
/** A slow subscriber's close handshake waits behind its backlog: past this it is cut off. */
const SLOW_CLOSE_GRACE_MS = 1000;

export interface EventsHubOptions {
  /** TASKMESH_MAX_EVENT_SUBSCRIBERS: subscribers in all. */
  maxSubscribers?: number;
  /** TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT: subscribers from one client address. */
  maxPerClient?: number;
  /** TASKMESH_EVENTS_BACKLOG_BYTES (EVENT_BUFFER_LIMIT_BYTES). */
  backlogBytes?: number;
  /** TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES: what all subscribers together may hold unsent. */
  totalBacklogBytes?: number;
  /** TASKMESH_EVENTS_LOG_SIZE (EVENT_LOG_SIZE): events kept for `since=`. */
  logSize?: number;
  /** The first sequence number (after a restart: past everything a previous run used). */
  firstSeq?: number;
  /** Called with a new reservation end when sequence numbers run low (the journal persists it). */
  reserveSeq?: (upTo: number) => void;
}

interface LoggedEvent {
  event: TaskEvent;
  /** Its JSON, made once, when first sent. */
  text: string | undefined;
}

export interface EventFilter {
  types: Set<string> | null;
  taskIds: Set<string> | null;
  /** Event kinds wanted, e.g. only the final ones for a client that waits for tasks to end. */
  events: Set<TaskEventKind> | null;
  /** `?batch=1`: a turn's events in one message, a JSON array (one message each without it). */
  batch?: boolean;
  /** `?since=<seq>`: first the logged events after it, then live ones. */
  since?: number | undefined;
}

/** The connection under a WebSocket: held back (corked) while a turn's events are written. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

interface Subscriber {
  ws: WebSocket;
  /** The client's address, for the per-client cap. */
  client: string;
  filter: EventFilter;
  socket: Corkable | undefined;
  corked: boolean;
  /** Its buffer was over the limit when this turn's first event came: it misses the turn's events. */
  full: 'own' | 'total' | null;
  /** Batch subscribers: this turn's events, serialised, sent as one array at the check phase. */
  pending: string[] | null;
  /** The seq of the last event written to it: where it resumes if it is closed for being slow. */
  lastSeq: number;
  /**
   * Catching up on `since`: the seq of the next logged event to send it; null once it is live.
   * Live events are not written to it meanwhile: the log holds them, and the catch-up reaches them.
   */
  replayFrom: number | null;
}

/**
 * Reads repeatable or comma-separated `?type=`, `?taskId=` and `?event=` parameters. Throws
 * INVALID_REQUEST for an event kind that does not exist.
 */
export function parseEventFilter(params: URLSearchParams): EventFilter {
  const set = (name: string): Set<string> | null => {
    const values = params
      .getAll(name)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return values.length === 0 ? null : new Set(values);
  };
  const events = set('event');
  const batch = params.get('batch');
  const sinceText = params.get('since');
  const since = sinceText === null ? undefined : Number(sinceText);
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) {
    throw new TaskmeshError('INVALID_REQUEST', `since: expected an event sequence number (a whole number ≥ 0), got "${sinceText}"`);
  }
  if (batch !== null && batch !== '0' && batch !== '1') {
    throw new TaskmeshError('INVALID_REQUEST', `batch: expected 0 or 1, got "${batch}"`);
  }
  for (const kind of events ?? []) {
    if (!TaskEventKind.safeParse(kind).success) {
      throw new TaskmeshError('INVALID_REQUEST', `event: unknown event "${kind}"; known events: ${TaskEventKind.options.join(', ')}`);
    }
  }
  return { types: set('type'), taskIds: set('taskId'), events: events as Set<TaskEventKind> | null, batch: batch === '1', since };
}

/**
 * Fans task events out to WebSocket subscribers. An event object is only built when someone
 * listens, and serialised once, on the first subscriber it matches. A slow subscriber is closed
 * (counted) instead of growing an unbounded buffer or losing events in silence.
 *
 * Each event stays one WebSocket message, but a subscriber's connection is corked from its first
 * event in an event-loop turn until the next check phase: a batch of 500 tasks makes 500 events
 * in one turn, and they leave in one write instead of 500 syscalls. A subscriber that asked for
 * `batch` gets the turn's events as one message (a JSON array) at that point instead: one frame
 * to build and parse, not 500. Whether a subscriber is too slow is decided at its first event of
 * a turn, from what it had not yet taken: one that is, is closed with SLOW_SUBSCRIBER_CLOSE_CODE.
 */
export class EventsHub {
  private readonly subscribers = new Set<Subscriber>();
  /** Subscribers still catching up on their `since` (also in `subscribers`). */
  private readonly catchingUp = new Set<Subscriber>();
  /** Subscribers whose connection is corked until the check phase of this turn. */
  private corked: Subscriber[] = [];
  private readonly maxSubscribers: number;
  private readonly maxPerClient: number;
  private readonly backlogBytes: number;
  private readonly totalBacklogBytes: number;
  /** Unsent bytes of every subscriber, as the first cork of this turn found them. */
  private turnBacklog = 0;
  private readonly log: HeadQueue<LoggedEvent>;
  private readonly logSize: number;
  private nextSeq: number;
  private reservedUpTo: number;
  private readonly reserveSeq: ((upTo: number) => void) | undefined;
  /** Subscribers closed for reading too slowly. */
  slowClosed = 0;
  sent = 0;

  constructor(options: EventsHubOptions = {}) {
    this.maxSubscribers = options.maxSubscribers ?? Number.POSITIVE_INFINITY;
    this.maxPerClient = options.maxPerClient ?? Number.POSITIVE_INFINITY;
    this.backlogBytes = options.backlogBytes ?? EVENT_BUFFER_LIMIT_BYTES;
    this.totalBacklogBytes = options.totalBacklogBytes ?? Number.POSITIVE_INFINITY;
    this.logSize = options.logSize ?? EVENT_LOG_SIZE;
    this.log = new HeadQueue<LoggedEvent>();
    this.nextSeq = options.firstSeq ?? 1;
    this.reserveSeq = options.reserveSeq;
    this.reservedUpTo = this.nextSeq + SEQ_RESERVATION;
    this.reserveSeq?.(this.reservedUpTo);
  }

  /** The seq the next event will carry. */
  get seq(): number {
    return this.nextSeq;
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Throws TOO_MANY_SUBSCRIBERS when a subscriber from `client` would pass a cap (checked before the upgrade). */
  admit(client: string): void {
    if (this.subscribers.size >= this.maxSubscribers) {
      throw new TaskmeshError(
        'TOO_MANY_SUBSCRIBERS',
        `${this.subscribers.size} event subscribers already (TASKMESH_MAX_EVENT_SUBSCRIBERS=${this.maxSubscribers})`,
        {
          details: { limit: 'TASKMESH_MAX_EVENT_SUBSCRIBERS', max: this.maxSubscribers },
        },
      );
    }
    if (this.countFrom(client) >= this.maxPerClient) {
      throw new TaskmeshError(
        'TOO_MANY_SUBSCRIBERS',
        `${client} already has ${this.maxPerClient} event subscribers (TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT)`,
        {
          details: { limit: 'TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT', max: this.maxPerClient },
        },
      );
    }
  }

  /**
   * `socket` is the connection under `ws`; without it every event is written on its own. With
   * `filter.since`, the logged events after it are written first; a `since` older than the log is
   * closed with SINCE_TOO_OLD_CLOSE_CODE, its reason saying where the log begins.
   */
  add(ws: WebSocket, filter: EventFilter, socket?: Corkable, client = ''): void {
    // The log holds every event from `oldest` on; before it, events were evicted or belong to a
    // previous run (whose numbers all lie below this run's first).
    const oldest = this.log.peek()?.event.seq ?? this.nextSeq;
    let since = filter.since;
    if (since !== undefined && since < oldest - 1) {
      ws.close(
        SINCE_TOO_OLD_CLOSE_CODE,
        `since=${since} is older than the event log: read task state, then resume with since=${oldest - 1}`,
      );
      return;
    }
    // A `since` from the future is nothing to replay.
    if (since !== undefined && since >= this.nextSeq) since = undefined;
    const sub: Subscriber = {
      ws,
      client,
      filter,
      socket,
      corked: false,
      full: null,
      pending: filter.batch === true ? [] : null,
      lastSeq: since ?? this.nextSeq - 1,
      replayFrom: since === undefined ? null : since + 1,
    };
    this.subscribers.add(sub);
    ws.on('close', () => {
      this.subscribers.delete(sub);
      this.catchingUp.delete(sub);
    });
    if (sub.replayFrom !== null) {
      this.catchingUp.add(sub);
      this.replayPiece(sub);
    }
  }

  /**
   * Writes the subscriber the next piece of the logged events it asked for with `since` (those
   * matching its filter, at most REPLAY_BATCH and half its backlog bound in bytes), and the next
   * piece once that one has left for the kernel: a catch-up goes at the pace the subscriber reads,
   * holding at most a piece in memory, however much it missed. It is live from the piece that
   * reaches the log's end. One the log moves past before it read that far is closed (`dropBehind`).
   */
  private replayPiece(sub: Subscriber): void {
    if (sub.replayFrom === null || !this.catchingUp.has(sub) || sub.ws.readyState !== sub.ws.OPEN) return;
    const first = this.log.peek()?.event.seq ?? this.nextSeq;
    let seq = sub.replayFrom;
    const texts: string[] = [];
    const maxBytes = this.backlogBytes / 2;
    let bytes = 0;
    for (let scanned = 0; seq < this.nextSeq && scanned < REPLAY_SCAN && texts.length < REPLAY_BATCH && bytes < maxBytes; scanned++) {
      const logged = this.log.at(seq - first) as LoggedEvent;
      seq++;
      if (!matches(sub.filter, logged.event)) continue;
      logged.text ??= JSON.stringify(logged.event);
      texts.push(logged.text);
      bytes += logged.text.length;
    }
    sub.lastSeq = seq - 1;
    sub.replayFrom = seq < this.nextSeq ? seq : null;
    if (sub.replayFrom === null) this.catchingUp.delete(sub);
    this.sent += texts.length;
    const next =
      sub.replayFrom === null
        ? undefined
        : (err?: Error | null) => {
            if (!err) this.replayPiece(sub);
          };
    if (texts.length === 0) {
      if (next !== undefined) setImmediate(next);
    } else if (sub.filter.batch === true) sub.ws.send(`[${texts.join(',')}]`, next);
    else {
      const last = texts.length - 1;
      for (let i = 0; i < last; i++) sub.ws.send(texts[i]!);
      sub.ws.send(texts[last]!, next);
    }
  }

  /**
   * The log just let go of event `gone`: a subscriber catching up that had not been sent it yet
   * cannot be, and is closed with SINCE_TOO_OLD_CLOSE_CODE, its reason saying where the log begins.
   */
  private dropBehind(gone: number): void {
    for (const sub of this.catchingUp) {
      if (sub.replayFrom === null || sub.replayFrom > gone) continue;
      this.catchingUp.delete(sub);
      this.subscribers.delete(sub);
      this.slowClosed++;
      sub.ws.close(
        SINCE_TOO_OLD_CLOSE_CODE,
        `fell behind the event log while catching up: read task state, then resume with since=${gone}`,
      );
      setTimeout(() => sub.ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    }
  }

  /** Subscribers from one client address (counted when one more asks to join: at most the cap). */
  private countFrom(client: string): number {
    let count = 0;
    for (const sub of this.subscribers) if (sub.client === client) count++;
    return count;
  }

  /**
   * Whether a subscriber holds too much unsent: over its own bound, or, while all of them
   * together are over TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES, over its even share of that total (so
   * the ones that hold the most go first, and a subscriber that keeps up is never closed for
   * the others).
   */
  private overBacklog(buffered: number): 'own' | 'total' | null {
    if (buffered > this.backlogBytes) return 'own';
    if (this.turnBacklog > this.totalBacklogBytes && buffered > this.totalBacklogBytes / Math.max(1, this.subscribers.size)) return 'total';
    return null;
  }

  /** Closes a subscriber that fell behind, saying why; it is cut off if the close cannot get through. */
  private closeSlow(sub: Subscriber, why: 'own' | 'total'): void {
    this.subscribers.delete(sub);
    this.slowClosed++;
    sub.pending = null;
    const { ws } = sub;
    ws.close(
      SLOW_SUBSCRIBER_CLOSE_CODE,
      why === 'own'
        ? `too slow: over ${this.backlogBytes} bytes not read; resume with since=${sub.lastSeq} (TASKMESH_EVENTS_BACKLOG_BYTES)`
        : `too slow: subscribers hold over ${this.totalBacklogBytes} bytes not read; resume with since=${sub.lastSeq} (TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES)`,
    );
    setTimeout(() => ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
  }

  publish(kind: TaskEventKind, entry: TaskEntry, latencyMs: number | null = null): void {
    if (entry.ephemeral) return;
    const r = entry.record;
    const event: TaskEvent = {
      seq: this.takeSeq(),
      event: kind,
      taskId: r.id,
      type: r.type,
      status: r.status,
      at: Date.now(),
      attempt: r.attempts,
      worker: r.worker,
      progress: r.progress,
      error: r.error,
      latencyMs,
    };
    const logged: LoggedEvent = { event, text: undefined };
    this.log.push(logged);
    if (this.log.length > this.logSize) {
      const gone = this.log.shift() as LoggedEvent;
      if (this.catchingUp.size > 0) this.dropBehind(gone.event.seq);
    }
    if (this.subscribers.size === 0) return;
    for (const sub of this.subscribers) {
      const { ws, filter } = sub;
      if (sub.replayFrom !== null || !matches(filter, event)) continue;
      if (ws.readyState !== ws.OPEN) continue;
      // Corked, the buffer also holds this turn's events: a subscriber is judged by what it had
      // not taken when the turn began.
      const turnly = sub.socket !== undefined || sub.pending !== null;
      if (turnly && !sub.corked) this.cork(sub);
      const over = turnly ? sub.full : this.overBacklog(ws.bufferedAmount);
      if (over !== null) {
        this.closeSlow(sub, over);
        continue;
      }
      logged.text ??= JSON.stringify(event);
      if (sub.pending !== null) sub.pending.push(logged.text);
      else ws.send(logged.text);
      sub.lastSeq = event.seq;
      this.sent++;
    }
  }

  private takeSeq(): number {
    const seq = this.nextSeq++;
    // Reserve the next block well before this one runs out, so the reservation is written in time.
    if (this.reservedUpTo - seq < SEQ_RESERVATION / 2) {
      this.reservedUpTo += SEQ_RESERVATION;
      this.reserveSeq?.(this.reservedUpTo);
    }
    return seq;
  }

  private cork(sub: Subscriber): void {
    if (this.corked.length === 0 && this.totalBacklogBytes !== Number.POSITIVE_INFINITY) {
      // Once a turn: the sum over at most TASKMESH_MAX_EVENT_SUBSCRIBERS sockets.
      this.turnBacklog = 0;
      for (const other of this.subscribers) this.turnBacklog += other.ws.bufferedAmount;
    }
    sub.full = this.overBacklog(sub.ws.bufferedAmount);
    sub.socket?.cork();
    sub.corked = true;
    this.corked.push(sub);
    if (this.corked.length === 1) setImmediate(this.uncorkAll);
  }

  private readonly uncorkAll = (): void => {
    const subs = this.corked;
    this.corked = [];
    for (const sub of subs) {
      sub.corked = false;
      if (sub.pending !== null && sub.pending.length > 0) {
        const texts = sub.pending;
        sub.pending = [];
        if (sub.ws.readyState === sub.ws.OPEN) sub.ws.send(`[${texts.join(',')}]`);
      }
      sub.socket?.uncork();
    }
  };

  /** Closes every subscriber (shutdown). */
  closeAll(code = 1001, reason = 'dispatcher shutting down'): void {
    this.uncorkAll();
    for (const { ws } of this.subscribers) ws.close(code, reason);
    this.subscribers.clear();
    this.catchingUp.clear();
  }
}
