import { z } from 'zod';
import { TaskmeshError, isErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import {
  LeaseResponse,
  WorkerListResponse,
  type HeartbeatRequest,
  type RegisterRequest,
  type WorkerListQuery,
  type WorkerRecord,
} from './registry.js';
import { ErrorResponse } from './tasks-api.js';
import { SIGNATURE_HEADER, deriveKey, signRequest } from './request-signing.js';

/** The purpose the nameservice's request key is derived for (see deriveKey). */
export const NAMESERVICE_KEY_PURPOSE = 'nameservice';

/**
 * HTTP client of the nameservice, used by workers (register, heartbeat, deregister), the
 * dispatcher (lookup) and monitoring (list). Every answer is parsed with the shared schemas;
 * every failure is a TaskmeshError: UNAVAILABLE when the nameservice cannot be reached or
 * answers with something that is not the API, otherwise the code from the error body.
 */
export interface NameserviceClientOptions {
  /** e.g. http://127.0.0.1:7100 */
  baseUrl: string;
  logger?: Logger;
  /** Per request, including reading the body. */
  timeoutMs?: number;
  /** TASKMESH_SECRET: signs registrations, heartbeats and deregistrations (lookups need none). */
  secret?: string | undefined;
}

/** Requests are local-network calls; a nameservice slower than this is treated as down. */
export const NAMESERVICE_CLIENT_TIMEOUT_MS = 2000;

interface Answer {
  status: number;
  body: unknown;
}

export class NameserviceClient {
  readonly baseUrl: string;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly key: Buffer | undefined;

  constructor(options: NameserviceClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.logger = options.logger ?? silentLogger();
    this.timeoutMs = options.timeoutMs ?? NAMESERVICE_CLIENT_TIMEOUT_MS;
    this.key = options.secret === undefined ? undefined : deriveKey(options.secret, NAMESERVICE_KEY_PURPOSE);
  }

  /** Registers (or re-registers, replacing) a worker and returns its lease. */
  async register(req: RegisterRequest): Promise<LeaseResponse> {
    const answer = await this.request('POST', '/v1/workers', req);
    if (answer.status !== 201) throw this.failure('register', answer);
    return this.parse('register', LeaseResponse, answer.body);
  }

  /** Renews the lease; 'unknown' means the nameservice forgot or expired it: register again. */
  async heartbeat(name: string, body: HeartbeatRequest): Promise<'ok' | 'unknown'> {
    const answer = await this.request('PUT', `/v1/workers/${encodeURIComponent(name)}/heartbeat`, body);
    if (answer.status === 200) return 'ok';
    const error = this.failure('heartbeat', answer);
    if (error.code === 'UNKNOWN_WORKER') return 'unknown';
    throw error;
  }

  /** Removes the worker. Already gone (UNKNOWN_WORKER) counts as done, so shutdown can always call it. */
  async deregister(name: string): Promise<void> {
    const answer = await this.request('DELETE', `/v1/workers/${encodeURIComponent(name)}`);
    if (answer.status === 204) return;
    const error = this.failure('deregister', answer);
    if (error.code === 'UNKNOWN_WORKER') return;
    throw error;
  }

  /** Live workers of a type, least loaded first. */
  async lookup(type: string): Promise<WorkerRecord[]> {
    const answer = await this.request('GET', `/v1/types/${encodeURIComponent(type)}/workers`);
    if (answer.status !== 200) throw this.failure('lookup', answer);
    return this.parse('lookup', WorkerListResponse, answer.body).workers;
  }

  /** Every entry, including suspect and recently expired ones; optionally filtered. */
  async list(filter: WorkerListQuery = {}): Promise<WorkerRecord[]> {
    const query = new URLSearchParams();
    if (filter.type !== undefined) query.set('type', filter.type);
    if (filter.state !== undefined) query.set('state', filter.state);
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const answer = await this.request('GET', `/v1/workers${qs}`);
    if (answer.status !== 200) throw this.failure('list', answer);
    return this.parse('list', WorkerListResponse, answer.body).workers;
  }

  private async request(method: string, path: string, body?: unknown): Promise<Answer> {
    const url = `${this.baseUrl}${path}`;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> =
      text === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' };
    if (this.key !== undefined && method !== 'GET') {
      const target = new URL(url);
      headers[SIGNATURE_HEADER] = signRequest(this.key, { method, path: `${target.pathname}${target.search}`, body: text ?? '' });
    }
    try {
      const res = await fetch(url, {
        method,
        headers,
        body: text,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const answer = await res.text();
      let parsed: unknown = undefined;
      if (answer !== '') {
        try {
          parsed = JSON.parse(answer);
        } catch {
          parsed = answer;
        }
      }
      return { status: res.status, body: parsed };
    } catch (err) {
      const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : describe(err);
      this.logger.debug(`nameservice ${method} ${path} failed: ${reason}`);
      throw new TaskmeshError('UNAVAILABLE', `nameservice at ${this.baseUrl} unreachable: ${reason}`, { cause: err });
    }
  }

  /** The error an unexpected status means: the body's own code when it has one. */
  private failure(operation: string, answer: Answer): TaskmeshError {
    const parsed = ErrorResponse.safeParse(answer.body);
    if (parsed.success && isErrorCode(parsed.data.error.code)) return TaskmeshError.fromBody(parsed.data.error);
    // Not the nameservice's error format: a proxy, or some other server on that port.
    return new TaskmeshError('UNAVAILABLE', `nameservice ${operation}: unexpected HTTP ${answer.status} from ${this.baseUrl}`, {
      details: { status: answer.status },
    });
  }

  private parse<S extends z.ZodType>(operation: string, schema: S, body: unknown): z.output<S> {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new TaskmeshError('UNAVAILABLE', `nameservice ${operation}: answer does not match the API: ${z.prettifyError(parsed.error)}`);
  }
}

/** fetch hides the socket error in `cause`; that is the useful part (ECONNREFUSED, ENOTFOUND). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  return err.message;
}
