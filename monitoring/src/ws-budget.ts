import type { WebSocket } from 'ws';
import { SLOW_SUBSCRIBER_CLOSE_CODE as SLOW_CLOSE_CODE } from '@taskmesh/shared';

/** How long a socket closed for being slow has for its close to get through before it is cut. */
const SLOW_CLOSE_GRACE_MS = 1000;

/**
 * What monitoring's WebSockets may hold unsent: per socket and in all (every dashboard, log and
 * image stream together). Browsers that stop reading leave data buffered in the server; past the
 * bounds a socket is closed instead of holding more, so the count of slow tabs cannot add up to
 * gigabytes.
 */
export class WsBudget {
  /** Sockets closed for holding too much. */
  closedSlow = 0;

  constructor(
    private readonly sockets: () => Iterable<WebSocket>,
    /** TASKMESH_MONITORING_CLIENT_BUFFER_BYTES */
    readonly perSocketBytes: number,
    /** TASKMESH_MONITORING_BUFFER_BYTES */
    readonly totalBytes: number,
  ) {}

  /** Unsent bytes of every socket now. */
  get buffered(): number {
    let sum = 0;
    for (const ws of this.sockets()) sum += ws.bufferedAmount;
    return sum;
  }

  /**
   * Whether `bytes` more may be sent on `ws`. When not, the socket is over its own bound or the
   * total is spent: it is closed (counted) and false is returned.
   */
  admit(ws: WebSocket, bytes: number): boolean {
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount + bytes <= this.perSocketBytes && (ws.bufferedAmount === 0 || this.buffered + bytes <= this.totalBytes))
      return true;
    this.closedSlow++;
    // The reason names the bound; a client that reads nothing more is cut off shortly after.
    const own = ws.bufferedAmount + bytes > this.perSocketBytes;
    ws.close(
      SLOW_CLOSE_CODE,
      own
        ? `too slow: over ${this.perSocketBytes} bytes unsent (TASKMESH_MONITORING_CLIENT_BUFFER_BYTES)`
        : `too slow: monitoring's WebSockets hold over ${this.totalBytes} bytes unsent (TASKMESH_MONITORING_BUFFER_BYTES)`,
    );
    setTimeout(() => ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    return false;
  }
}
