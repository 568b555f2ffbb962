import { isIP } from 'node:net';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { envInt, envList } from '../config.js';
import { TaskmeshError } from '../errors.js';
import { BodyBudget } from './body-budget.js';

/**
 * What one HTTP service holds open and in flight at most, whoever connects: the same bounds and
 * the same variables for the dispatcher, the nameservice and monitoring. Each is a total for the
 * process, not per connection, so a few bytes from many sockets cannot add up to gigabytes.
 */
export interface HttpLimits {
  /** TASKMESH_HTTP_MAX_CONNECTIONS: open TCP connections in all (WebSockets included). */
  maxConnections: number;
  /** TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT: open connections from one address. */
  maxConnectionsPerClient: number;
  /** TASKMESH_HTTP_HEADERS_TIMEOUT_MS: a request's headers must have arrived by then. */
  headersTimeoutMs: number;
  /** TASKMESH_HTTP_REQUEST_TIMEOUT_MS: the whole request, body included, by then. */
  requestTimeoutMs: number;
  /** TASKMESH_HTTP_BODY_BUDGET_BYTES: decoded request-body bytes held by all requests being read. */
  bodyBudgetBytes: number;
  /** TASKMESH_HTTP_MAX_INFLATION: how many times its compressed size a body may decode to. */
  maxInflation: number;
  /**
   * TASKMESH_TRUSTED_PROXIES: addresses whose X-Forwarded-For is believed. A request from one of
   * them counts against the client it names; from any other, against its own address.
   */
  trustedProxies: readonly string[];
}

export const HTTP_LIMIT_DEFAULTS = {
  maxConnections: 2048,
  maxConnectionsPerClient: 512,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  bodyBudgetBytes: 64 * 1024 * 1024,
  maxInflation: 100,
  trustedProxies: [] as readonly string[],
} as const satisfies HttpLimits;

const H = HTTP_LIMIT_DEFAULTS;

/** The variables of HttpLimits, for each service's env spec (spread into it). */
export const httpLimitsEnvSpec = {
  maxConnections: { env: 'TASKMESH_HTTP_MAX_CONNECTIONS', schema: envInt(H.maxConnections, 1) },
  maxConnectionsPerClient: { env: 'TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT', schema: envInt(H.maxConnectionsPerClient, 1) },
  headersTimeoutMs: { env: 'TASKMESH_HTTP_HEADERS_TIMEOUT_MS', schema: envInt(H.headersTimeoutMs, 100, 600_000) },
  requestTimeoutMs: { env: 'TASKMESH_HTTP_REQUEST_TIMEOUT_MS', schema: envInt(H.requestTimeoutMs, 100, 3_600_000) },
  // At least a brotli decoder's largest window (16 MiB), which a compressed body takes from it.
  bodyBudgetBytes: { env: 'TASKMESH_HTTP_BODY_BUDGET_BYTES', schema: envInt(H.bodyBudgetBytes, 16 * 1024 * 1024) },
  maxInflation: { env: 'TASKMESH_HTTP_MAX_INFLATION', schema: envInt(H.maxInflation, 1, 100_000) },
  trustedProxies: { env: 'TASKMESH_TRUSTED_PROXIES', schema: envList() },
};

/** Counters of what the limits refused, for /metrics and /healthz. */
export interface HttpLimitCounters {
  /** Connections closed at once: over the total cap, over the per-client cap. */
  refusedConnections: { total: number; perClient: number };
  /** Requests timed out before their headers or body had arrived (Node answers them 408). */
  timedOut: number;
}

/** What a guarded server holds now and what its limits refused. */
export interface HttpGuard {
  readonly limits: HttpLimits;
  readonly budget: BodyBudget;
  readonly counters: HttpLimitCounters;
  /** Open connections now. */
  readonly connections: number;
  /** The client a request counts against (see TASKMESH_TRUSTED_PROXIES). */
  clientOf(this: void, req: IncomingMessage): string;
  /** What the limits hold and refused, as every service's /healthz shows it. */
  figures(this: void): HttpFigures;
}

export interface HttpFigures {
  connections: number;
  bodyBytesInFlight: number;
  refused: { connections: HttpLimitCounters['refusedConnections']; bodies: BodyBudget['refused'] };
  timedOut: number;
}

/** The HttpLimits among a service's options (its env config holds them beside its own). */
export function httpLimitsOf(options: Partial<Record<keyof HttpLimits, unknown>>): Partial<HttpLimits> {
  const picked: Partial<Record<keyof HttpLimits, unknown>> = {};
  for (const key of Object.keys(HTTP_LIMIT_DEFAULTS) as Array<keyof HttpLimits>) if (options[key] !== undefined) picked[key] = options[key];
  return picked as Partial<HttpLimits>;
}

/**
 * A node:http server (its 'request' listener attached by the caller) with the limits on: Node's own header and request timeouts (far under its
 * defaults of 60 s and 300 s, which let a client hold a connection and its buffers for minutes
 * by sending slowly, checked every second instead of every 30 s), and caps on open connections
 * in all and per address, each refused connection answered 503 with a code naming its variable
 * and closed. Connections from a trusted proxy or from loopback are not capped per address (all a
 * proxy's clients share it; one on this host is the host's own); a trusted proxy's requests count
 * against the client it names where a cap is per client (event subscribers).
 */
export function createHttpServer(given: Partial<HttpLimits> = {}): { server: Server; guard: HttpGuard } {
  const limits: HttpLimits = { ...HTTP_LIMIT_DEFAULTS, ...definedOnly(given) };
  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  });
  const counters: HttpLimitCounters = { refusedConnections: { total: 0, perClient: 0 }, timedOut: 0 };
  const trusted = new Set(limits.trustedProxies.map(normaliseAddress));
  const perAddress = new Map<string, number>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    const address = normaliseAddress(socket.remoteAddress ?? '');
    // A trusted proxy's clients share its address, and one on this host is the host's own (the
    // CLI, a benchmark, npm start's services): neither is capped per address, only in total.
    const fromProxy = trusted.has(address) || isLoopback(address);
    const mine = perAddress.get(address) ?? 0;
    if (open >= limits.maxConnections) {
      counters.refusedConnections.total++;
      return refuseConnection(
        socket,
        new TaskmeshError(
          'TOO_MANY_CONNECTIONS',
          `the service holds at most ${limits.maxConnections} connections (TASKMESH_HTTP_MAX_CONNECTIONS)`,
          {
            details: { limit: 'TASKMESH_HTTP_MAX_CONNECTIONS', max: limits.maxConnections },
          },
        ),
      );
    }
    if (!fromProxy && mine >= limits.maxConnectionsPerClient) {
      counters.refusedConnections.perClient++;
      return refuseConnection(
        socket,
        new TaskmeshError(
          'TOO_MANY_CONNECTIONS',
          `${address} already holds ${limits.maxConnectionsPerClient} connections (TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT)`,
          { details: { limit: 'TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT', max: limits.maxConnectionsPerClient } },
        ),
      );
    }
    open++;
    perAddress.set(address, mine + 1);
    socket.once('close', () => {
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') counters.timedOut++;
    // As Node's own handler does: an answer only where none has begun on this connection (bytes
    // after an answer would be read as a second one); 408 for a timeout, 400 for the rest, closed.
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (!socket.writable || answering) return socket.destroy();
    if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Unparsable: no body, as Node answers it (the method is unknown, and a HEAD's answer has none).
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const error = new TaskmeshError(
      'REQUEST_TIMEOUT',
      `the request did not arrive whole within TASKMESH_HTTP_HEADERS_TIMEOUT_MS=${limits.headersTimeoutMs} (headers) or TASKMESH_HTTP_REQUEST_TIMEOUT_MS=${limits.requestTimeoutMs} (all of it)`,
      { details: { limit: 'TASKMESH_HTTP_REQUEST_TIMEOUT_MS', max: limits.requestTimeoutMs } },
    );
    const body = JSON.stringify({ error: error.toJSON() });
    socket.end(
      `HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const guard: HttpGuard = {
    limits,
    budget: new BodyBudget(limits.bodyBudgetBytes, limits.maxInflation),
    counters,
    get connections() {
      return open;
    },
    clientOf: (req) => clientOf(req, trusted),
    figures: () => ({
      connections: open,
      bodyBytesInFlight: guard.budget.inUse,
      refused: { connections: { ...counters.refusedConnections }, bodies: { ...guard.budget.refused } },
      timedOut: counters.timedOut,
    }),
  };
  return { server, guard };
}

/**
 * The client a request counts against: its peer's address, or, when the peer is a trusted proxy,
 * the last address of X-Forwarded-For (the one that proxy added; those before it are the client's
 * own say). Read by split and trim: the header is the client's.
 */
function clientOf(req: IncomingMessage, trusted: ReadonlySet<string>): string {
  const peer = normaliseAddress(req.socket.remoteAddress ?? '');
  if (!trusted.has(peer)) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const header = Array.isArray(forwarded) ? forwarded.at(-1) : forwarded;
  if (header === undefined) return peer;
  const last = header.slice(header.lastIndexOf(',') + 1).trim();
  return isIP(last) === 0 ? peer : normaliseAddress(last);
}

/** The addresses a client on this host connects from by default. */
const isLoopback = (address: string): boolean => address === '127.0.0.1' || address === '::1';

/** `::ffff:127.0.0.1` and `127.0.0.1` are one client. */
function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** A connection over a cap: one 503 naming the cap, then closed (the client sent nothing yet). */
function refuseConnection(socket: Socket, error: TaskmeshError): void {
  const body = JSON.stringify({ error: error.toJSON() });
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`,
  );
  // A client that never reads must not keep the socket either.
  socket.setTimeout(1000, () => socket.destroy());
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
