import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { TaskmeshError, toTaskmeshError, type Logger } from '@taskmesh/shared';
import type { TokenAuth } from './auth.js';
import { parseEventFilter, type EventsHub } from './events-hub.js';
import { parseInput } from './http-errors.js';
import { ImageStream, StreamQuery } from './image-stream.js';
import type { DispatcherMetrics } from './metrics.js';
import type { TaskRunner } from './task-runner.js';

export interface WebSocketsDeps {
  server: Server;
  auth: TokenAuth;
  events: EventsHub;
  runner: TaskRunner;
  metrics: DispatcherMetrics;
  logger: Logger;
}

/** Incoming messages are not part of either protocol; this bounds what a client can send. */
const MAX_INCOMING_BYTES = 4096;

/**
 * Routes WebSocket upgrades on the HTTP server: /v1/events (task events) and /v1/stream/image
 * (live frames). A refused upgrade is answered with a plain HTTP error and the JSON error body.
 */
export class WebSockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INCOMING_BYTES });
  private readonly streams = new Set<ImageStream>();

  constructor(private readonly d: WebSocketsDeps) {
    d.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  get streamCount(): number {
    return this.streams.size;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'http://dispatcher');
      this.d.auth.check(req, url.searchParams.get('token'));
      if (url.pathname === '/v1/events') {
        const filter = parseEventFilter(url.searchParams);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => ws.terminate());
          this.d.events.add(ws, filter, socket);
        });
      } else if (url.pathname === '/v1/stream/image') {
        const query = parseInput(StreamQuery, Object.fromEntries(url.searchParams), 'stream query');
        this.d.runner.checkType('image');
        this.wss.handleUpgrade(req, socket, head, (ws) => this.startStream(ws, query));
      } else {
        throw new TaskmeshError('NOT_FOUND', `no WebSocket endpoint at ${url.pathname} (try /v1/events or /v1/stream/image)`);
      }
    } catch (err) {
      refuse(socket, toTaskmeshError(err));
    }
  }

  private startStream(ws: WebSocket, query: StreamQuery): void {
    ws.on('error', () => ws.terminate());
    const stream = new ImageStream({ ws, query, run: (task) => this.d.runner.runEphemeral(task), metrics: this.d.metrics });
    this.streams.add(stream);
    ws.on('close', () => this.streams.delete(stream));
  }

  /** Closes every socket (shutdown). */
  close(): void {
    for (const s of this.streams) s.stop();
    this.streams.clear();
    this.d.events.closeAll();
    for (const ws of this.wss.clients) ws.close(1001, 'dispatcher shutting down');
    this.wss.close();
  }
}

function refuse(socket: Duplex, error: TaskmeshError): void {
  const body = JSON.stringify({ error: error.toJSON() });
  const reason = error.status === 401 ? 'Unauthorized' : error.status === 404 ? 'Not Found' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${error.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
