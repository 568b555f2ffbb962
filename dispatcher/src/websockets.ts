import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  EVENTS_SEQ_HEADER,
  TaskmeshError,
  refuseUpgrade,
  requestUrl,
  WsHeartbeat,
  type Logger,
  type RequestGuard,
  parseOrThrow,
  errorAnswer,
  logErrorAnswer,
} from '@taskmesh/shared';
import type { AdmissionGate } from './admission-gate.js';
import type { TokenAuth } from './auth.js';
import { parseEventFilter, type EventsHub } from './events-hub.js';
import { ImageStream, StreamQuery } from './image-stream.js';
import type { DispatcherMetrics } from './metrics.js';
import type { TaskRunner } from './task-runner.js';

export interface WebSocketsDeps {
  server: Server;
  auth: TokenAuth;
  guard: RequestGuard;
  gate: AdmissionGate;
  events: EventsHub;
  runner: TaskRunner;
  metrics: DispatcherMetrics;
  /** TASKMESH_MAX_IMAGE_STREAMS: each stream keeps an image worker busy, so they are few. */
  maxStreams: number;
  /** The client a request counts against in per-client caps (its address, or what a trusted proxy says). */
  clientOf: (req: IncomingMessage) => string;
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
  private readonly heartbeat = new WsHeartbeat<WebSocket>(() => this.wss.clients);

  constructor(private readonly deps: WebSocketsDeps) {
    deps.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    // Where an events subscription begins (written in the same turn as it joins the hub): a client
    // that has seen no event yet when its connection drops resumes from here, missing nothing.
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => {
      if (requestUrl(req.url).pathname === '/v1/events') headers.push(`${EVENTS_SEQ_HEADER}: ${deps.events.seq - 1}`);
    });
  }

  get streamCount(): number {
    return this.streams.size;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      this.deps.guard.check(req);
      const url = requestUrl(req.url);
      this.deps.auth.check(req, url.searchParams.get('token'));
      if (url.pathname === '/v1/events') {
        const filter = parseEventFilter(url.searchParams);
        const client = this.deps.clientOf(req);
        this.deps.events.admit(client);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.track(ws);
          this.deps.events.add(ws, filter, socket, client);
        });
      } else if (url.pathname === '/v1/stream/image') {
        const query = parseOrThrow(StreamQuery, Object.fromEntries(url.searchParams), 'query');
        this.deps.gate.checkType('image');
        if (this.streams.size >= this.deps.maxStreams) {
          throw new TaskmeshError(
            'TOO_MANY_STREAMS',
            `${this.streams.size} image streams already open (TASKMESH_MAX_IMAGE_STREAMS=${this.deps.maxStreams})`,
            {
              details: { limit: 'TASKMESH_MAX_IMAGE_STREAMS', max: this.deps.maxStreams },
            },
          );
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => this.startStream(ws, query));
      } else {
        throw new TaskmeshError('NOT_FOUND', `no WebSocket endpoint at ${url.pathname} (try /v1/events or /v1/stream/image)`);
      }
    } catch (err) {
      const { error } = errorAnswer(err);
      logErrorAnswer(this.deps.logger, error, err, { method: req.method ?? '', path: req.url ?? '' });
      refuseUpgrade(socket, error, req.method);
    }
  }

  /** Errors end the connection; pongs keep it. */
  private track(ws: WebSocket): void {
    ws.on('error', () => ws.terminate());
    this.heartbeat.track(ws);
  }

  private startStream(ws: WebSocket, query: StreamQuery): void {
    this.track(ws);
    const stream = new ImageStream({ ws, query, run: (task) => this.deps.runner.runEphemeral(task), metrics: this.deps.metrics });
    this.streams.add(stream);
    ws.on('close', () => this.streams.delete(stream));
  }

  /** Closes every socket (shutdown). */
  close(): void {
    this.heartbeat.stop();
    for (const s of this.streams) s.stop();
    this.streams.clear();
    this.deps.events.closeAll();
    for (const ws of this.wss.clients) ws.close(1001, 'dispatcher shutting down');
    this.wss.close();
  }
}
