import { z } from 'zod';
import { TaskmeshError } from './errors.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import {
  LeaseResponse,
  MAX_REGISTRY_CHANGE_BYTES,
  RegistryChange,
  WorkerDownResponse,
  WorkerListResponse,
  type HeartbeatRequest,
  type WorkerDownRequest,
  type RegisterRequest,
  type WorkerListQuery,
  type WorkerRecord,
} from './registry.js';
import { SIGNATURE_HEADER, deriveKey, signRequest } from './request-signing.js';
import { answerError, callService, describeFetchError, jsonOrText, type ServiceAnswer } from './http/service-call.js';

/** The purpose the nameservice's request key is derived for (see deriveKey). */
export const NAMESERVICE_KEY_PURPOSE = 'nameservice';

/** The key requests to the nameservice are signed with, derived from TASKMESH_SECRET. */
export const nameserviceKey = (secret: string): Buffer => deriveKey(secret, NAMESERVICE_KEY_PURPOSE);

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
  /** TASKMESH_SECRET: signs registrations, heartbeats, deregistrations and watches (lookups need none). */
  secret?: string | undefined;
  /** Or the key derived from it for the nameservice (nameserviceKey), for a holder of no other key. */
  key?: Buffer | undefined;
}

/** Requests are local-network calls; a nameservice slower than this is treated as down. */
export const NAMESERVICE_CLIENT_TIMEOUT_MS = 2000;

export class NameserviceClient {
  readonly baseUrl: string;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly key: Buffer | undefined;

  constructor(options: NameserviceClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.logger = options.logger ?? silentLogger();
    this.timeoutMs = options.timeoutMs ?? NAMESERVICE_CLIENT_TIMEOUT_MS;
    this.key = options.key ?? (options.secret === undefined ? undefined : nameserviceKey(options.secret));
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

  /** Tells the nameservice a worker's process or container ended; returns the names it expired. */
  async reportDown(report: WorkerDownRequest): Promise<string[]> {
    const answer = await this.request('POST', '/v1/workers/down', report);
    if (answer.status !== 200) throw this.failure('report down', answer);
    return this.parse('report down', WorkerDownResponse, answer.body).expired;
  }

  /**
   * Follows the registry's changes (GET /v1/watch) until the stream ends, the signal aborts or
   * nothing (not even a ping) arrives for `silenceMs`; resolves then, rejects when it cannot open.
   * A line that is not a RegistryChange ends the stream: that is not the nameservice talking.
   */
  async watch(onChange: (change: RegistryChange) => void, options: { signal: AbortSignal; silenceMs: number }): Promise<void> {
    const url = `${this.baseUrl}/v1/watch`;
    const local = new AbortController();
    const abort = (): void => local.abort();
    options.signal.addEventListener('abort', abort, { once: true });
    let silence = setTimeout(abort, options.silenceMs);
    try {
      let res: Response;
      try {
        // Signed when the client has the key: a signed watch takes a slot kept for the suite's own
        // services, which idle unsigned connections cannot fill.
        const headers: Record<string, string> = { accept: 'application/x-ndjson' };
        if (this.key !== undefined) headers[SIGNATURE_HEADER] = signRequest(this.key, { method: 'GET', path: '/v1/watch', body: '' });
        res = await fetch(url, { headers, signal: local.signal });
      } catch (err) {
        throw new TaskmeshError('UNAVAILABLE', `nameservice at ${this.baseUrl} unreachable: ${describeFetchError(err)}`, { cause: err });
      }
      if (res.status !== 200 || res.body === null) {
        const text = await res.text().catch(() => '');
        throw this.failure('watch', { status: res.status, body: jsonOrText(text) });
      }
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for await (const chunk of res.body) {
          clearTimeout(silence);
          silence = setTimeout(abort, options.silenceMs);
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (line === '') continue;
            const parsed = RegistryChange.safeParse(jsonOrText(line));
            if (!parsed.success) throw new TaskmeshError('UNAVAILABLE', 'nameservice watch: a line that is not a registry change');
            onChange(parsed.data);
          }
          if (buffered.length > MAX_REGISTRY_CHANGE_BYTES)
            throw new TaskmeshError('UNAVAILABLE', `nameservice watch: a line longer than ${MAX_REGISTRY_CHANGE_BYTES} bytes`);
        }
      } catch (err) {
        if (err instanceof TaskmeshError) throw err;
        // Aborted (closed, or silent too long) or the connection dropped: the caller reconnects.
      }
    } finally {
      clearTimeout(silence);
      options.signal.removeEventListener('abort', abort);
      local.abort();
    }
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

  private async request(method: string, path: string, body?: unknown): Promise<ServiceAnswer> {
    try {
      return await callService('nameservice', {
        method,
        url: `${this.baseUrl}${path}`,
        body,
        key: method === 'GET' ? undefined : this.key,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      this.logger.debug(`nameservice ${method} ${path} failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** The error an unexpected status means: the body's own code when it has one. */
  private failure(operation: string, answer: ServiceAnswer): TaskmeshError {
    return answerError('nameservice', operation, answer, this.baseUrl);
  }

  private parse<S extends z.ZodType>(operation: string, schema: S, body: unknown): z.output<S> {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new TaskmeshError('UNAVAILABLE', `nameservice ${operation}: answer does not match the API: ${z.prettifyError(parsed.error)}`);
  }
}
