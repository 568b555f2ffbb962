import type { ServerResponse } from 'node:http';
import { TaskmeshError, WATCH_PING_INTERVAL_MS, type RegistryChange } from '@taskmesh/shared';
import { MAX_UNSIGNED_WATCHERS, MAX_UNSIGNED_WATCHERS_PER_CLIENT, MAX_WATCHERS, MAX_WATCH_BACKLOG_BYTES } from './constants.js';

export interface WatcherLimits {
  /** TASKMESH_NAMESERVICE_MAX_WATCHERS: signed watches (the suite's own dispatchers). */
  signed: number;
  /** TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS: unsigned watches in all. */
  unsigned: number;
  /** TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS_PER_CLIENT: unsigned watches from one client. */
  unsignedPerClient: number;
}

/**
 * The open GET /v1/watch streams: each registry change is written to every one as a JSON line, so
 * a dispatcher hears of a worker down or up at once instead of at its next lookup. Signed watches
 * (a holder of TASKMESH_SECRET: the dispatchers) have slots of their own, which unsigned ones
 * cannot take: those are capped in all and per client, so idle connections from anyone cannot
 * turn push failover off. Each watcher is bounded by its unread bytes (MAX_WATCH_BACKLOG_BYTES:
 * one that does not read is disconnected; it looks up again when it reconnects).
 */
export class RegistryWatchers {
  private readonly open = new Map<ServerResponse, { signed: boolean; client: string }>();
  private readonly ping: NodeJS.Timeout;
  private readonly limits: WatcherLimits;
  /** Watchers disconnected for not reading. */
  slowClosed = 0;
  /** Watches refused for want of a slot, signed and not. */
  readonly refused = { signed: 0, unsigned: 0 };

  constructor(
    limits: Partial<WatcherLimits> = {},
    private readonly maxBacklogBytes = MAX_WATCH_BACKLOG_BYTES,
  ) {
    this.limits = {
      signed: limits.signed ?? MAX_WATCHERS,
      unsigned: limits.unsigned ?? MAX_UNSIGNED_WATCHERS,
      unsignedPerClient: limits.unsignedPerClient ?? MAX_UNSIGNED_WATCHERS_PER_CLIENT,
    };
    this.ping = setInterval(() => this.publish({ kind: 'ping', at: Date.now() }), WATCH_PING_INTERVAL_MS);
    this.ping.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /** Starts a stream on `res`; throws TOO_MANY_SUBSCRIBERS naming the cap when its kind is full. */
  add(res: ServerResponse, watcher: { signed: boolean; client: string }): void {
    const refusal = this.refusal(watcher);
    if (refusal !== undefined) {
      this.refused[watcher.signed ? 'signed' : 'unsigned']++;
      throw new TaskmeshError('TOO_MANY_SUBSCRIBERS', refusal.message, { details: { limit: refusal.variable, max: refusal.max } });
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    // Changes leave as soon as they happen: no Nagle delay on a line of a hundred bytes.
    res.socket?.setNoDelay(true);
    this.open.set(res, watcher);
    res.on('close', () => this.open.delete(res));
    this.write(res, `${JSON.stringify({ kind: 'hello', at: Date.now() } satisfies RegistryChange)}\n`);
  }

  publish(change: RegistryChange): void {
    if (this.open.size === 0) return;
    const line = `${JSON.stringify(change)}\n`;
    for (const res of this.open.keys()) this.write(res, line);
  }

  close(): void {
    clearInterval(this.ping);
    for (const res of this.open.keys()) res.end();
    this.open.clear();
  }

  private refusal({ signed, client }: { signed: boolean; client: string }): { message: string; variable: string; max: number } | undefined {
    let ofKind = 0;
    let ofClient = 0;
    for (const other of this.open.values()) {
      if (other.signed !== signed) continue;
      ofKind++;
      if (other.client === client) ofClient++;
    }
    if (signed && ofKind >= this.limits.signed)
      return {
        message: `the nameservice serves at most ${this.limits.signed} signed watch streams (TASKMESH_NAMESERVICE_MAX_WATCHERS)`,
        variable: 'TASKMESH_NAMESERVICE_MAX_WATCHERS',
        max: this.limits.signed,
      };
    if (!signed && ofKind >= this.limits.unsigned)
      return {
        message: `the nameservice serves at most ${this.limits.unsigned} unsigned watch streams (TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS); sign the watch with TASKMESH_SECRET for a slot of the suite's own`,
        variable: 'TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS',
        max: this.limits.unsigned,
      };
    if (!signed && ofClient >= this.limits.unsignedPerClient)
      return {
        message: `${client} already holds ${this.limits.unsignedPerClient} unsigned watch streams (TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS_PER_CLIENT)`,
        variable: 'TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS_PER_CLIENT',
        max: this.limits.unsignedPerClient,
      };
    return undefined;
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
