import http from 'node:http';
import https from 'node:https';
import { setMaxListeners } from 'node:events';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { Pool, errors as undiciErrors } from 'undici';

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

/**
 * `axios` for the CLI's commands; `undici` (Node's own HTTP client library, about a third of
 * axios's CPU per request) for the benchmark's load loops, where the client's cost would
 * otherwise be measured as the dispatcher's latency.
 */
export type JsonHttpBackend = 'axios' | 'undici';

export interface JsonHttpOptions {
  baseUrl: string;
  backend?: JsonHttpBackend;
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

/** JSON over HTTP/1.1 with keep-alive sockets. */
export interface JsonHttp {
  /** Resolves with any answer the server gave; rejects with JsonHttpError when there was none. */
  request(request: JsonRequest): Promise<JsonResponse>;
  /** Closes the kept-alive sockets so the process can exit. */
  close(): void;
}

export function createJsonHttp(options: JsonHttpOptions): JsonHttp {
  // Every request in flight listens to the one signal: more than EventTarget's default of 10.
  if (options.signal !== undefined) setMaxListeners(0, options.signal);
  return options.backend === 'undici' ? new UndiciJsonHttp(options) : new AxiosJsonHttp(options);
}

class AxiosJsonHttp implements JsonHttp {
  private readonly http: AxiosInstance;
  private readonly agent: http.Agent;
  private readonly basePath: string;

  constructor(private readonly options: JsonHttpOptions) {
    const base = new URL(options.baseUrl);
    this.basePath = base.pathname.replace(/\/+$/, '');
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = base.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.http = axios.create({
      baseURL: base.origin,
      timeout: options.timeoutMs ?? 0,
      httpAgent: this.agent,
      httpsAgent: this.agent,
      headers: { Accept: 'application/json', ...options.headers },
      // Status handling and body decoding are the caller's.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: (data: unknown) => data,
      maxRedirects: 0,
      proxy: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async request(request: JsonRequest): Promise<JsonResponse> {
    const path = this.basePath + request.path + queryString(request.query);
    if (this.options.signal?.aborted === true) throw abortError(this.options.signal);
    try {
      const res = await this.http.request<string>({
        method: request.method,
        url: path,
        ...(request.body === undefined ? {} : { data: JSON.stringify(request.body), headers: { 'Content-Type': 'application/json' } }),
        ...(request.timeoutMs === undefined ? {} : { timeout: request.timeoutMs }),
      });
      return { status: res.status, data: decodeBody(String(res.data ?? ''), request.text), path };
    } catch (err) {
      if (axios.isCancel(err) || isAborted(this.options.signal)) throw abortError(this.options.signal);
      const code = err instanceof AxiosError ? err.code : undefined;
      // axios reports its own timeout as ECONNABORTED.
      if (code === AxiosError.ECONNABORTED || code === AxiosError.ETIMEDOUT)
        throw new JsonHttpError((err as Error).message, 'ETIMEDOUT', { cause: err });
      throw new JsonHttpError((err as Error).message, code ?? 'ERR_HTTP', { cause: err });
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

class UndiciJsonHttp implements JsonHttp {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: JsonHttpOptions) {
    const base = new URL(options.baseUrl);
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.pool = new Pool(base.origin, { connections: options.maxSockets ?? 64 });
    this.headers = { Accept: 'application/json', ...options.headers };
  }

  async request(request: JsonRequest): Promise<JsonResponse> {
    const path = this.basePath + request.path + queryString(request.query);
    const { signal } = this.options;
    if (signal?.aborted === true) throw abortError(signal);
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs ?? 0;
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    try {
      const res = await this.pool.request({
        method: request.method,
        path,
        headers: body === undefined ? this.headers : { ...this.headers, 'Content-Type': 'application/json' },
        body,
        signal,
        // 0 turns undici's own timeouts off; ours covers the whole request.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      return { status: res.statusCode, data: decodeBody(await res.body.text(), request.text), path };
    } catch (err) {
      if (isAborted(signal)) throw abortError(signal);
      if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
        throw new JsonHttpError(`no answer within ${timeoutMs} ms`, 'ETIMEDOUT', { cause: err });
      }
      const code = (err as { code?: unknown } | null)?.code;
      throw new JsonHttpError((err as Error).message, typeof code === 'string' ? code : 'ERR_HTTP', { cause: err });
    }
  }

  close(): void {
    void this.pool.destroy();
  }
}

// A function, so that TypeScript does not narrow `aborted` across an await.
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

const abortError = (signal: AbortSignal | undefined): JsonHttpError =>
  new JsonHttpError('the request was aborted', 'ABORT_ERR', { cause: signal?.reason });

function queryString(query: JsonRequest['query']): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** JSON when it parses, else the text (a proxy's HTML error page, say); undefined when empty. */
function decodeBody(text: string, asText: boolean | undefined): unknown {
  if (asText === true) return text;
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
