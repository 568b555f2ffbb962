import {
  ChaosResponse,
  ChaosStatus,
  ErrorResponse,
  type ChaosAction,
  SubmitBatchResponse,
  SubmitTaskResponse,
  TaskListResponse,
  TypeListResponse,
  type TaskListItem,
  TaskRecord,
  TaskmeshError,
  isErrorCode,
  type ErrorCode,
  type SubmitTaskRequest,
  type TaskStatus,
  type WorkerRecord,
  type TaskFilter,
} from '@taskmesh/shared';
import { z } from 'zod';
import { JsonHttpError, createJsonHttp, type JsonHttp, type JsonHttpBackend, type JsonRequest, type JsonResponse } from './json-http.js';

/** Default dispatcher address when neither --dispatcher nor TASKMESH_DISPATCHER_URL is given. */
export const DEFAULT_DISPATCHER_URL = 'http://127.0.0.1:7200';

export interface ApiClientOptions {
  /** The dispatcher's base URL, e.g. http://127.0.0.1:7200. */
  baseUrl: string;
  /** Bearer token (TASKMESH_API_TOKEN). */
  token?: string;
  /** Per-request timeout; 0 = none. Long-polls add their wait on top. */
  requestTimeoutMs?: number;
  /** Most sockets kept open to the dispatcher; the bench raises it to its concurrency. */
  maxSockets?: number;
  /** Aborts every request in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** The HTTP client library: axios (default) or undici (the benchmark's load loops). */
  backend?: JsonHttpBackend;
  /** Sent with every request (e.g. a W3C traceparent). */
  headers?: Record<string, string> | undefined;
}

/** An error the dispatcher answered with: its code and message, plus the HTTP status. */
export class DispatcherError extends TaskmeshError {
  readonly httpStatus: number;
  /** The server's code verbatim, even one this client does not know. */
  readonly serverCode: string;
  constructor(httpStatus: number, serverCode: string, message: string, details?: unknown) {
    const code: ErrorCode = isErrorCode(serverCode) ? serverCode : httpStatus < 500 ? 'INVALID_REQUEST' : 'INTERNAL';
    super(code, message, { details });
    this.httpStatus = httpStatus;
    this.serverCode = serverCode;
  }
}

// The dispatcher's worker list mirrors the nameservice's records; parsed leniently so a
// field added on the server never breaks the CLI.
const BulkAnswer = z.object({
  matched: z.number().int(),
  changed: z.number().int(),
  refused: z.record(z.string(), z.number().int()),
  nextCursor: z.string().nullable().optional(),
});
const WorkersResponse = z.object({ workers: z.array(z.looseObject({ name: z.string(), type: z.string() })) });

/** GET /v1/tasks: the shared filter, a page's size and the cursor of the page before. */
export type ListFilter = TaskFilter & { limit?: number | undefined; cursor?: string | undefined };

/**
 * The dispatcher's HTTP API as typed calls, over keep-alive sockets (json-http.ts), used by every
 * command and the benchmark. Every failure becomes a TaskmeshError: a DispatcherError for an
 * answer the server gave, UNAVAILABLE (naming the address) when it could not be reached.
 */
export class ApiClient {
  readonly baseUrl: string;
  readonly token: string | undefined;
  private readonly http: JsonHttp;
  private readonly timeoutMs: number;

  constructor(options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.requestTimeoutMs ?? 0;
    this.http = createJsonHttp({
      baseUrl: this.baseUrl,
      backend: options.backend,
      timeoutMs: this.timeoutMs,
      maxSockets: options.maxSockets ?? 64,
      headers: { ...options.headers, ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}) },
      signal: options.signal,
    });
  }

  /** POST /v1/tasks → the new task's id and status. */
  async submit(task: SubmitTaskRequest): Promise<{ id: string; status: TaskStatus }> {
    return this.parse(await this.send({ method: 'POST', path: '/v1/tasks', body: task }), SubmitTaskResponse);
  }

  /**
   * POST /v1/tasks?wait=ms: the full record if the task ended within `waitMs`, otherwise only its
   * id and status (the server answers 202 then).
   */
  async submitAndWait(task: SubmitTaskRequest, waitMs: number): Promise<TaskRecord | { id: string; status: TaskStatus }> {
    const res = await this.send({
      method: 'POST',
      path: '/v1/tasks',
      query: { wait: waitMs },
      body: task,
      timeoutMs: this.longTimeout(waitMs),
    });
    return res.status === 200 ? this.parse(res, TaskRecord) : this.parse(res, SubmitTaskResponse);
  }

  /** POST /v1/tasks/batch → the ids, in the order of `tasks`. */
  async submitBatch(tasks: SubmitTaskRequest[]): Promise<string[]> {
    return this.parse(await this.send({ method: 'POST', path: '/v1/tasks/batch', body: { tasks } }), SubmitBatchResponse).ids;
  }

  /** GET /v1/tasks/:id */
  async getTask(id: string): Promise<TaskRecord> {
    return this.parse(await this.send({ method: 'GET', path: `/v1/tasks/${encodeURIComponent(id)}` }), TaskRecord);
  }

  /** DELETE /v1/tasks/:id: cancels a queued or running task; returns its record. */
  async cancel(id: string): Promise<TaskRecord> {
    return this.recordOrFetch(id, await this.send({ method: 'DELETE', path: `/v1/tasks/${encodeURIComponent(id)}` }));
  }

  /** POST /v1/tasks/:id/retry: runs a failed or cancelled task again; its id and new status. */
  async retry(id: string): Promise<{ id: string; status: TaskStatus }> {
    return this.parse(await this.send({ method: 'POST', path: `/v1/tasks/${encodeURIComponent(id)}/retry` }), SubmitTaskResponse);
  }

  /**
   * POST /v1/tasks/bulk/{retry,cancel}: acts on every task the filter matches; the counts. The
   * dispatcher reads a bounded part of its journal per request and says where it stopped: the
   * requests go on from there until the journal's end.
   */
  async bulk(
    action: 'retry' | 'cancel',
    filter: TaskFilter & { status: TaskStatus },
  ): Promise<{ matched: number; changed: number; refused: Record<string, number> }> {
    const total = { matched: 0, changed: 0, refused: {} as Record<string, number> };
    let cursor: string | undefined;
    do {
      const body = Object.fromEntries(Object.entries({ ...filter, cursor }).filter(([, v]) => v !== undefined));
      const answer = this.parse(await this.send({ method: 'POST', path: `/v1/tasks/bulk/${action}`, body }), BulkAnswer);
      total.matched += answer.matched;
      total.changed += answer.changed;
      for (const [code, n] of Object.entries(answer.refused)) total.refused[code] = (total.refused[code] ?? 0) + n;
      cursor = answer.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return total;
  }

  /** POST /v1/chaos/:action: a fault on a worker (the dispatcher needs TASKMESH_CHAOS=1). */
  async chaos(
    action: ChaosAction,
    request: { worker: string; percent?: number | undefined; forMs?: number | undefined },
  ): Promise<ChaosResponse> {
    const body = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
    return this.parse(await this.send({ method: 'POST', path: `/v1/chaos/${action}`, body }), ChaosResponse);
  }

  /** GET /v1/chaos: whether the controls are on, and the faults in force. */
  async chaosStatus(): Promise<ChaosStatus> {
    return this.parse(await this.send({ method: 'GET', path: '/v1/chaos' }), ChaosStatus);
  }

  /** GET /v1/tasks?status=&type= */
  async list(filter: ListFilter = {}): Promise<TaskListItem[]> {
    return this.parse(await this.send({ method: 'GET', path: '/v1/tasks', query: { ...filter } }), TaskListResponse).tasks;
  }

  /** GET /v1/workers */
  /** GET /v1/types: the task types the dispatcher accepts. */
  async types(): Promise<TypeListResponse['types']> {
    return this.parse(await this.send({ method: 'GET', path: '/v1/types' }), TypeListResponse).types;
  }

  async workers(): Promise<WorkerRecord[]> {
    const body = this.parse(await this.send({ method: 'GET', path: '/v1/workers' }), WorkersResponse);
    return body.workers as unknown as WorkerRecord[];
  }

  /** GET /healthz: resolves when the dispatcher answers 2xx. */
  async health(): Promise<unknown> {
    const res = await this.send({ method: 'GET', path: '/healthz' });
    this.check(res);
    return res.data;
  }

  /** GET /metrics as Prometheus text. */
  async metricsText(): Promise<string> {
    const res = await this.send({ method: 'GET', path: '/metrics', text: true });
    this.check(res);
    return String(res.data);
  }

  /** Closes the kept-alive sockets so the process can exit. */
  close(): void {
    this.http.close();
  }

  private longTimeout(waitMs: number): number {
    return this.timeoutMs === 0 ? 0 : this.timeoutMs + waitMs;
  }

  /** Runs a request, turning transport failures into UNAVAILABLE naming the address. */
  private async send(request: JsonRequest): Promise<JsonResponse> {
    try {
      return await this.http.request(request);
    } catch (err) {
      throw transportError(this.baseUrl, err);
    }
  }

  private check(res: JsonResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    const body = ErrorResponse.safeParse(res.data);
    if (body.success) throw new DispatcherError(res.status, body.data.error.code, body.data.error.message, body.data.error.details);
    throw new DispatcherError(
      res.status,
      res.status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST',
      `HTTP ${res.status} from ${this.baseUrl}${res.path}`,
    );
  }

  private parse<T>(res: JsonResponse, schema: z.ZodType<T>): T {
    this.check(res);
    const parsed = schema.safeParse(res.data);
    if (!parsed.success) {
      throw new TaskmeshError(
        'INTERNAL',
        `unexpected answer from the dispatcher: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
      );
    }
    return parsed.data;
  }

  // DELETE and retry may answer with the record or only with {id,status}; either way the caller
  // gets the full record.
  private async recordOrFetch(id: string, res: JsonResponse): Promise<TaskRecord> {
    this.check(res);
    const full = TaskRecord.safeParse(res.data);
    if (full.success) return full.data;
    const nested = z.object({ task: TaskRecord }).safeParse(res.data);
    if (nested.success) return nested.data.task;
    return this.getTask(id);
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'timed out',
  ECONNABORTED: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

/** The error for a request that got no answer: `cannot reach the dispatcher at URL: reason`. */
export function transportError(baseUrl: string, err: unknown): TaskmeshError {
  if (err instanceof TaskmeshError) return err;
  const code = err instanceof JsonHttpError ? err.code : (err as { code?: unknown } | null)?.code;
  const key = typeof code === 'string' ? code : '';
  const reason = REASONS[key] ?? (err instanceof Error ? err.message || key || 'unknown error' : String(err));
  return new TaskmeshError('UNAVAILABLE', `cannot reach the dispatcher at ${baseUrl}: ${reason}`, { cause: err });
}
