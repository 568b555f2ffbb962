/** Every open WebSocket is pinged this often; one that has not answered the last ping is closed. */
export const WS_PING_INTERVAL_MS = 30_000;

/** The part of a `ws` WebSocket the heartbeat uses. */
interface Pingable {
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
}

/**
 * Closes WebSockets whose peer went away without a close (a laptop shut, a NAT that forgot the
 * flow): they are pinged every interval, and one that missed the pong since the last ping is cut.
 * One for every service's WebSocket server.
 */
export class WsHeartbeat<W extends Pingable> {
  private readonly alive = new WeakSet<W>();
  private readonly timer: NodeJS.Timeout;

  /** `clients`: the sockets open now (a WebSocketServer's `clients`). */
  constructor(
    private readonly clients: () => Iterable<W>,
    intervalMs = WS_PING_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.beat(), intervalMs).unref();
  }

  /** A socket just opened: it counts as alive until its first ping goes unanswered. */
  track(ws: W): void {
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const ws of this.clients()) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }
}
