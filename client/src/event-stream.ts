import WebSocket from 'ws';
import { ErrorResponse, TaskEvent, type TaskEventKind, messageText } from '@taskmesh/shared';
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
}

/** The WebSocket URL for a subscription (the token travels in a header, not the URL). */
export function eventsUrl(options: EventStreamOptions): string {
  const url = new URL('/v1/events', options.baseUrl.replace(/^http/, 'ws'));
  if (options.type) url.searchParams.set('type', options.type);
  if (options.taskId) url.searchParams.set('taskId', options.taskId);
  if (options.events?.length) url.searchParams.set('event', options.events.join(','));
  if (options.batch === true) url.searchParams.set('batch', '1');
  return url.toString();
}

/**
 * A live subscription to task events. `onEvent` listeners get every parsed event; `closed`
 * resolves when the socket ends (with the error, if it ended on one). Malformed messages are
 * counted and skipped: one bad frame must not end a watch.
 */
export class EventStream {
  malformed = 0;
  readonly closed: Promise<Error | undefined>;
  private readonly listeners = new Set<(e: TaskEvent) => void>();
  private closing = false;

  private constructor(
    private readonly socket: WebSocket,
    closed: Promise<Error | undefined>,
  ) {
    this.closed = closed;
    socket.on('message', (data) => this.onMessage(data));
  }

  /** Opens the socket and resolves once the dispatcher accepted the subscription. */
  static open(options: EventStreamOptions): Promise<EventStream> {
    const socket = new WebSocket(eventsUrl(options), {
      headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
      perMessageDeflate: false,
    });
    let failure: Error | undefined;
    const closed = new Promise<Error | undefined>((resolve) => socket.once('close', () => resolve(failure)));
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new EventStream(socket, closed)));
      socket.on('error', (err) => {
        failure = transportError(options.baseUrl, err);
        reject(failure);
      });
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
          failure = parsed.success
            ? new DispatcherError(status, parsed.data.error.code, parsed.data.error.message)
            : new DispatcherError(status, status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST', `event stream refused with HTTP ${status}`);
          reject(failure);
          socket.terminate();
        });
      });
    });
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
      for (const listener of this.listeners) listener(parsed.data);
    }
  }
}
