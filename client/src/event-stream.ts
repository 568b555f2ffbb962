import WebSocket from 'ws';
import {
  ErrorResponse,
  SINCE_TOO_OLD_CLOSE_CODE,
  SLOW_SUBSCRIBER_CLOSE_CODE,
  TaskEvent,
  eventsStartSeq,
  type TaskEventKind,
  messageText,
} from '@taskmesh/shared';
import { DispatcherError, transportError } from './api-client.js';

/** Options of the dispatcher's `/v1/events` WebSocket. */
export interface EventStreamOptions {
  /** The dispatcher's HTTP base URL; http→ws and https→wss. */
  baseUrl: string;
  token?: string;
  /** Only events of this task type. */
  type?: string;
  /** Only events of this task. */
  taskId?: string;
  /** Only these kinds of events (all when absent). */
  events?: readonly TaskEventKind[];
  /** A turn's events in one message (`?batch=1`): far fewer frames to parse under load. */
  batch?: boolean;
  /** Only events after this sequence number (the logged ones first). */
  since?: number | undefined;
}

/** The WebSocket URL for a subscription (the token travels in a header, not the URL). */
export function eventsUrl(options: EventStreamOptions): string {
  const url = new URL('/v1/events', options.baseUrl.replace(/^http/, 'ws'));
  if (options.type) url.searchParams.set('type', options.type);
  if (options.taskId) url.searchParams.set('taskId', options.taskId);
  if (options.events?.length) url.searchParams.set('event', options.events.join(','));
  if (options.batch === true) url.searchParams.set('batch', '1');
  if (options.since !== undefined) url.searchParams.set('since', String(options.since));
  return url.toString();
}

/** One open connection, and where its subscription began (the dispatcher's EVENTS_SEQ_HEADER). */
interface Connection {
  socket: WebSocket;
  startSeq: number | undefined;
  /**
   * Stops holding messages and hands over those that came before anyone listened: a replay's first
   * frames can arrive in the same read as the upgrade, and are emitted as soon as it opens.
   */
  takeEarly: () => WebSocket.RawData[];
}

/** Opens one connection; rejects with the dispatcher's refusal or the transport error. */
function connect(options: EventStreamOptions): Promise<Connection> {
  const socket = new WebSocket(eventsUrl(options), {
    headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
    perMessageDeflate: false,
  });
  let startSeq: number | undefined;
  const early: WebSocket.RawData[] = [];
  const hold = (data: WebSocket.RawData): void => void early.push(data);
  socket.on('message', hold);
  const takeEarly = (): WebSocket.RawData[] => {
    socket.off('message', hold);
    return early;
  };
  socket.once('upgrade', (res) => (startSeq = eventsStartSeq(res.headers)));
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      resolve({ socket, startSeq, takeEarly });
    });
    socket.on('error', (err) => reject(transportError(options.baseUrl, err)));
    socket.once('unexpected-response', (_req, res) => {
      // The upgrade was refused: read the server's JSON error to name the reason.
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        const parsed = ErrorResponse.safeParse(body);
        const status = res.statusCode ?? 500;
        reject(
          parsed.success
            ? new DispatcherError(status, parsed.data.error.code, parsed.data.error.message)
            : new DispatcherError(status, status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST', `event stream refused with HTTP ${status}`),
        );
        socket.terminate();
      });
    });
  });
}

/** A resuming stream gives up after this long without getting a connection back. */
const RESUME_GIVE_UP_MS = 60_000;
const RESUME_DELAY = { first: 100, max: 2000 };

/**
 * A live subscription to task events. `onEvent` listeners get every parsed event; `closed`
 * resolves when the stream ends for good (with the error, if it ended on one). Malformed messages
 * are counted and skipped: one bad frame must not end a watch.
 *
 * With `resume`, a connection that ends (the dispatcher restarted, or closed it for reading too
 * slowly) is opened again with `since=` the last event seen, so nothing is missed and nothing
 * comes twice; when the dispatcher says its log no longer reaches back that far, `onGap`
 * listeners are told (read task state then), and the stream resumes from where the log begins.
 */
export class EventStream {
  malformed = 0;
  /** Connections opened again after one ended. */
  resumed = 0;
  readonly closed: Promise<Error | undefined>;
  private readonly listeners = new Set<(e: TaskEvent) => void>();
  private readonly gapListeners = new Set<() => void>();
  private closing = false;
  private lastSeq: number | undefined;
  private finish!: (err: Error | undefined) => void;

  private socket!: WebSocket;

  private constructor(
    connection: Connection,
    private readonly options: EventStreamOptions & { resume?: boolean },
  ) {
    this.closed = new Promise((resolve) => (this.finish = resolve));
    this.attach(connection);
  }

  /** Opens the socket and resolves once the dispatcher accepted the subscription. */
  static async open(options: EventStreamOptions & { resume?: boolean }): Promise<EventStream> {
    return new EventStream(await connect(options), options);
  }

  /** Where a resumed connection starts: the last event received, or where the subscription began. */
  get position(): number | undefined {
    return this.lastSeq;
  }

  /** Called when events were missed beyond what the dispatcher still has: read task state. */
  onGap(listener: () => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  private attach({ socket, startSeq, takeEarly }: Connection): void {
    // Nothing seen yet: a connection that drops resumes from where this subscription began, so
    // what the dispatcher sent meanwhile (or a restarted one logged) is not missed.
    this.lastSeq ??= this.options.since ?? startSeq;
    this.socket = socket;
    // Held a turn longer, so the first connection's listeners (added when open() returns) hear them;
    // messages keep being held, in order, until then.
    setImmediate(() => {
      for (const data of takeEarly()) this.onMessage(data);
      socket.on('message', (data) => this.onMessage(data));
    });
    socket.once('close', (code, reason) => void this.ended(code, reason.toString('utf8')));
  }

  private async ended(code: number, reason: string): Promise<void> {
    if (this.closing || this.options.resume !== true) return this.finish(undefined);
    if (code === SINCE_TOO_OLD_CLOSE_CODE) {
      const resumeAt = Number(/since=(\d+)\s*$/.exec(reason)?.[1]);
      if (Number.isSafeInteger(resumeAt)) this.lastSeq = resumeAt;
      for (const listener of this.gapListeners) listener();
    } else if (code === SLOW_SUBSCRIBER_CLOSE_CODE && this.lastSeq === undefined) {
      const resumeAt = Number(/since=(\d+)/.exec(reason)?.[1]);
      if (Number.isSafeInteger(resumeAt)) this.lastSeq = resumeAt;
    }
    const giveUpAt = Date.now() + RESUME_GIVE_UP_MS;
    let wait = RESUME_DELAY.first;
    let failure: Error | undefined;
    while (!this.closing && Date.now() < giveUpAt) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(RESUME_DELAY.max, wait * 2);
      try {
        const connection = await connect({ ...this.options, since: this.lastSeq });
        if (this.closing) {
          connection.socket.close(1000);
          break;
        }
        this.resumed++;
        this.attach(connection);
        return;
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        // A subscription the dispatcher refuses (a 4xx) will not succeed by retrying.
        if (failure instanceof DispatcherError && failure.status < 500) break;
      }
    }
    this.finish(this.closing ? undefined : failure);
  }

  /** Adds a listener; returns a function that removes it. */
  onEvent(listener: (e: TaskEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the socket is still open. */
  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Closes the socket; `closed` resolves with undefined. */
  close(): Promise<Error | undefined> {
    if (!this.closing) {
      this.closing = true;
      if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
      // A peer that never answers the close frame must not keep the process alive.
      const timer = setTimeout(() => this.socket.terminate(), 1000);
      timer.unref();
    }
    return this.closed;
  }

  private onMessage(data: WebSocket.RawData): void {
    let value: unknown;
    try {
      value = JSON.parse(messageText(data));
    } catch {
      this.malformed++;
      return;
    }
    // The server may send one event per message or several as an array.
    for (const item of Array.isArray(value) ? value : [value]) {
      const parsed = TaskEvent.safeParse(item);
      if (!parsed.success) {
        this.malformed++;
        continue;
      }
      if (this.lastSeq !== undefined && parsed.data.seq <= this.lastSeq) continue;
      this.lastSeq = parsed.data.seq;
      for (const listener of this.listeners) listener(parsed.data);
    }
  }
}
