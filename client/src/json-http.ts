import http from 'node:http';
import https from 'node:https';

/** An answer from the server, whatever its status (status handling belongs to the caller). */
export interface JsonResponse {
  status: number;
  /** The parsed JSON body; the text itself when it is not JSON or `text` was asked for; undefined when empty. */
  data: unknown;
  /** The request's path and query, for messages. */
  path: string;
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Overrides the client's timeout; 0 = none. */
  timeoutMs?: number;
  /** Keep the body as text. */
  text?: boolean;
}

export interface JsonHttpOptions {
  baseUrl: string;
  /** Sent with every request (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Whole-request timeout; 0 = none. */
  timeoutMs?: number;
  /** Most sockets kept open to the server. */
  maxSockets?: number;
  /** Aborts every request in flight, now and later. */
  signal?: AbortSignal;
}

/** A request that got no answer; `code` is Node's (ECONNREFUSED...) or ETIMEDOUT / ABORT_ERR. */
export class JsonHttpError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JsonHttpError';
  }
}

/**
 * JSON over HTTP/1.1 with keep-alive sockets, on node:http directly: a request costs a third of
 * the CPU it costs through axios, which matters to the benchmark's one-at-a-time loop. One abort
 * listener for the whole client (not one per request) ends every request in flight.
 */
export class JsonHttp {
  private readonly base: URL;
  private readonly basePath: string;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly inFlight = new Set<http.ClientRequest>();

  constructor(options: JsonHttpOptions) {
    this.base = new URL(options.baseUrl);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    const secure = this.base.protocol === 'https:';
    this.transport = secure ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.headers = { Accept: 'application/json', ...options.headers };
    this.timeoutMs = options.timeoutMs ?? 0;
    this.signal = options.signal;
    this.signal?.addEventListener('abort', () => {
      for (const req of this.inFlight) req.destroy(new JsonHttpError('the request was aborted', 'ABORT_ERR', { cause: this.signal?.reason }));
    }, { once: true });
  }

  /** Resolves with any answer the server gave; rejects with JsonHttpError when there was none. */
  request(options: JsonRequest): Promise<JsonResponse> {
    const path = this.basePath + options.path + queryString(options.query);
    if (this.signal?.aborted === true) return Promise.reject(new JsonHttpError('the request was aborted', 'ABORT_ERR', { cause: this.signal.reason }));
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string | number> = { ...this.headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<JsonResponse>((resolve, reject) => {
      const req = this.transport.request({
        protocol: this.base.protocol,
        hostname: this.base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: this.base.port,
        method: options.method,
        path,
        headers,
        agent: this.agent,
      });
      this.inFlight.add(req);
      const timer = timeoutMs > 0 ? setTimeout(() => req.destroy(new JsonHttpError(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs) : undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.inFlight.delete(req);
      };
      req.on('error', (err: Error & { code?: string }) => {
        done();
        reject(err instanceof JsonHttpError ? err : new JsonHttpError(err.message, err.code ?? 'ERR_HTTP', { cause: err }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          done();
          const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, data: options.text === true ? text : parseBody(text), path });
        });
        res.on('error', (err: Error & { code?: string }) => {
          done();
          reject(new JsonHttpError(err.message, err.code ?? 'ECONNRESET', { cause: err }));
        });
      });
      req.end(body);
    });
  }

  /** Closes the kept-alive sockets so the process can exit. */
  close(): void {
    this.agent.destroy();
  }
}

function queryString(query: JsonRequest['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** JSON when it parses, else the text (a proxy's HTML error page, say); undefined when empty. */
function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
