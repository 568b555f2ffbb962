import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { backoffDelay, type Logger } from '@taskmesh/shared';

/**
 * Relays the dispatcher's live image stream (`/v1/stream/image?fps=N`) to the dashboard, so the
 * page needs one origin and the API token stays on the server. The upstream connection is open
 * only while at least one page watches; frames are passed on as they came (binary or text).
 */
export interface ImageRelayOptions {
  dispatcherUrl: string;
  token?: string;
  fps: number;
  logger: Logger;
}

export interface ImageRelayStatus {
  connected: boolean;
  error?: string;
  frames: number;
}

const BACKOFF = { initialDelayMs: 250, maxDelayMs: 5000, factor: 2, jitter: 0.2 };
/** A watcher with this much unsent data skips frames until it catches up (frames are replaceable). */
const MAX_WATCHER_BUFFER_BYTES = 2 * 1024 * 1024;

export class ImageRelay extends EventEmitter<{ status: [ImageRelayStatus] }> {
  private readonly watchers = new Set<WebSocket>();
  private upstream: WebSocket | undefined;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private statusValue: ImageRelayStatus = { connected: false, error: 'no viewer yet', frames: 0 };

  constructor(private readonly options: ImageRelayOptions) {
    super();
  }

  get status(): ImageRelayStatus {
    return this.statusValue;
  }

  /** Adds a page's WebSocket; the first one opens the upstream stream. */
  watch(ws: WebSocket): void {
    if (this.closed) {
      ws.close(1001, 'monitoring is shutting down');
      return;
    }
    this.watchers.add(ws);
    this.sendStatus(ws);
    const leave = (): void => {
      this.watchers.delete(ws);
      if (this.watchers.size === 0) this.disconnect();
    };
    ws.on('close', leave);
    ws.on('error', leave);
    if (!this.upstream && !this.retryTimer) this.connect();
  }

  close(): void {
    this.closed = true;
    for (const ws of this.watchers) ws.close(1001, 'monitoring is shutting down');
    this.watchers.clear();
    this.disconnect();
  }

  private connect(): void {
    this.retryTimer = undefined;
    if (this.closed || this.watchers.size === 0) return;
    const url = new URL('/v1/stream/image', this.options.dispatcherUrl.replace(/^http/, 'ws'));
    url.searchParams.set('fps', String(this.options.fps));
    const ws = new WebSocket(url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
    this.upstream = ws;
    ws.on('open', () => {
      this.retries = 0;
      this.setStatus({ connected: true, frames: this.statusValue.frames });
    });
    ws.on('message', (data, isBinary) => {
      this.statusValue.frames += 1;
      for (const w of this.watchers) {
        if (w.readyState === w.OPEN && w.bufferedAmount < MAX_WATCHER_BUFFER_BYTES) w.send(data, { binary: isBinary });
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      this.setStatus({
        connected: false,
        error: `dispatcher answered HTTP ${res.statusCode} to ${url.pathname}`,
        frames: this.statusValue.frames,
      });
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (this.statusValue.error !== err.message) this.options.logger.debug('image stream error', { error: err.message });
      this.setStatus({ connected: false, error: `image stream: ${err.message}`, frames: this.statusValue.frames });
    });
    ws.on('close', () => {
      if (this.upstream !== ws) return;
      this.upstream = undefined;
      if (this.statusValue.connected) this.setStatus({ connected: false, error: 'image stream closed', frames: this.statusValue.frames });
      if (this.closed || this.watchers.size === 0) return;
      this.retryTimer = setTimeout(() => this.connect(), backoffDelay(BACKOFF, this.retries++));
    });
  }

  private disconnect(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const ws = this.upstream;
    this.upstream = undefined;
    ws?.terminate();
    this.retries = 0;
  }

  private setStatus(next: ImageRelayStatus): void {
    const changed = next.connected !== this.statusValue.connected || next.error !== this.statusValue.error;
    this.statusValue = next;
    if (!changed) return;
    this.emit('status', next);
    for (const w of this.watchers) this.sendStatus(w);
  }

  /** Status goes to the page as a text message `{topic:'image-status', data}`, frames stay as they are. */
  private sendStatus(ws: WebSocket): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ topic: 'image-status', data: this.statusValue, at: Date.now() }));
  }
}
