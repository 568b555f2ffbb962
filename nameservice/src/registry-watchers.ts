import type { ServerResponse } from 'node:http';
import { TaskmeshError, WATCH_PING_INTERVAL_MS, type RegistryChange } from '@taskmesh/shared';
import { MAX_WATCHERS, MAX_WATCH_BACKLOG_BYTES } from './constants.js';

/**
 * The open GET /v1/watch streams: each registry change is written to every one as a JSON line, so
 * a dispatcher hears of a worker down or up at once instead of at its next lookup. Bounded by
 * count (MAX_WATCHERS) and by unread bytes per watcher (MAX_WATCH_BACKLOG_BYTES: a watcher that
 * does not read is disconnected; it looks up again when it reconnects).
 */
export class RegistryWatchers {
  private readonly open = new Set<ServerResponse>();
  private readonly ping: NodeJS.Timeout;
  /** Watchers disconnected for not reading. */
  slowClosed = 0;

  constructor(
    private readonly maxWatchers = MAX_WATCHERS,
    private readonly maxBacklogBytes = MAX_WATCH_BACKLOG_BYTES,
  ) {
    this.ping = setInterval(() => this.publish({ kind: 'ping', at: Date.now() }), WATCH_PING_INTERVAL_MS);
    this.ping.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /** Starts a stream on `res`; throws TOO_MANY_SUBSCRIBERS when full. */
  add(res: ServerResponse): void {
    if (this.open.size >= this.maxWatchers)
      throw new TaskmeshError('TOO_MANY_SUBSCRIBERS', `the nameservice serves at most ${this.maxWatchers} watch streams`, {
        details: { limit: this.maxWatchers },
      });
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    // Changes leave as soon as they happen: no Nagle delay on a line of a hundred bytes.
    res.socket?.setNoDelay(true);
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
    this.write(res, `${JSON.stringify({ kind: 'hello', at: Date.now() } satisfies RegistryChange)}\n`);
  }

  publish(change: RegistryChange): void {
    if (this.open.size === 0) return;
    const line = `${JSON.stringify(change)}\n`;
    for (const res of this.open) this.write(res, line);
  }

  close(): void {
    clearInterval(this.ping);
    for (const res of this.open) res.end();
    this.open.clear();
  }

  private write(res: ServerResponse, line: string): void {
    if (res.writableLength > this.maxBacklogBytes) {
      this.slowClosed++;
      this.open.delete(res);
      res.destroy();
      return;
    }
    res.write(line);
  }
}
