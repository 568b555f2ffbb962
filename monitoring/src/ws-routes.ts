import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  TaskmeshError,
  WsHeartbeat,
  errorAnswer,
  logErrorAnswer,
  refuseUpgrade,
  requestUrl,
  type Logger,
  type RequestGuard,
} from '@taskmesh/shared';
import { authenticate, sameOrigin } from './auth.js';
import type { Hub } from './hub.js';
import type { ImageRelay } from './sources/image-relay.js';
import type { DockerSource } from './sources/docker-source.js';
import type { WsBudget } from './ws-budget.js';

/**
 * The WebSocket endpoints, on the HTTP server's upgrade event:
 * - /api/events: every hub message `{topic, data, at}` (snapshots first, then live updates);
 * - /api/stream/image: the dispatcher's image frames, relayed as they come;
 * - /api/containers/:id/logs?tail=N: one container's log lines as `{topic:'log', data:{stream,text}}`.
 * Auth: bearer header, the page's cookie (same origin only) or `?token=`.
 */
export interface WsRoutesOptions {
  server: Server;
  hub: Hub;
  relay: ImageRelay;
  docker: DockerSource | null;
  apiToken?: string;
  /** Host and Origin checks: a page on another site must not read the events or the logs. */
  guard: RequestGuard;
  /** TASKMESH_MONITORING_MAX_CLIENTS: WebSockets open at once, all endpoints together. */
  maxClients: number;
  /** What the WebSockets may hold unsent, each and in all. */
  budget: WsBudget;
  logger: Logger;
}

const LOGS_PATH = /^\/api\/containers\/([A-Za-z0-9_.-]{1,128})\/logs$/;
const DEFAULT_LOG_TAIL = 200;
const MAX_LOG_TAIL = 5000;

export function attachWsRoutes({
  server,
  hub,
  relay,
  docker,
  apiToken,
  guard,
  maxClients,
  budget,
  logger,
}: WsRoutesOptions): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const heartbeat = new WsHeartbeat<WebSocket>(() => wss.clients);
  const accept = (req: IncomingMessage, socket: Duplex, head: Buffer, use: (ws: WebSocket) => void): void => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      heartbeat.track(ws);
      use(ws);
    });
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    // Everything a client sent is parsed in here: a bad URL or header is a 4xx, never a crash.
    try {
      guard.check(req);
      const url = requestUrl(req.url);
      const credential = authenticate(apiToken, req, true);
      if (credential === null) throw new TaskmeshError('UNAUTHORIZED', 'send the API token (bearer, cookie or ?token=)');
      if (credential === 'cookie' && !sameOrigin(req))
        throw new TaskmeshError('FORBIDDEN', 'a cookie-authenticated WebSocket must come from this dashboard');
      if (wss.clients.size >= maxClients) {
        throw new TaskmeshError(
          'TOO_MANY_SUBSCRIBERS',
          `${wss.clients.size} WebSockets open (TASKMESH_MONITORING_MAX_CLIENTS=${maxClients})`,
          {
            details: { limit: 'TASKMESH_MONITORING_MAX_CLIENTS', max: maxClients },
          },
        );
      }
      const logs = LOGS_PATH.exec(url.pathname);
      if (url.pathname === '/api/events') accept(req, socket, head, (ws) => hub.addClient(ws));
      else if (url.pathname === '/api/stream/image') accept(req, socket, head, (ws) => relay.watch(ws));
      else if (logs) {
        const tail = Math.min(MAX_LOG_TAIL, Math.max(0, Number.parseInt(url.searchParams.get('tail') ?? '', 10) || DEFAULT_LOG_TAIL));
        accept(req, socket, head, (ws) => void streamLogs(ws, docker, logs[1]!, tail, budget, logger));
      } else throw new TaskmeshError('NOT_FOUND', `no WebSocket endpoint at ${url.pathname}`);
    } catch (err) {
      const { error } = errorAnswer(err);
      logErrorAnswer(logger, error, err, { method: req.method ?? '', path: req.url ?? '' });
      refuseUpgrade(socket, error, req.method);
    }
  });
  wss.on('close', () => heartbeat.stop());
  return wss;
}

async function streamLogs(
  ws: WebSocket,
  docker: DockerSource | null,
  id: string,
  tail: number,
  budget: WsBudget,
  logger: Logger,
): Promise<void> {
  const ac = new AbortController();
  const send = (topic: string, data: unknown): void => {
    const json = JSON.stringify({ topic, data, at: Date.now() });
    // A container can log faster than a browser reads: past the budget the stream ends here.
    if (budget.admit(ws, json.length)) ws.send(json);
    else ac.abort();
  };
  if (docker === null || !docker.status.connected) {
    send('log-end', { error: 'Docker is not connected: container logs are unavailable' });
    ws.close(1000);
    return;
  }
  ws.on('close', () => ac.abort());
  try {
    await docker.followLogs(id, { tail, signal: ac.signal, onLine: (line) => send('log', line) });
    send('log-end', { reason: 'the log stream ended' });
  } catch (err) {
    logger.debug('log stream failed', { container: id, error: (err as Error).message });
    send('log-end', { error: (err as Error).message });
  }
  ws.close(1000);
}
