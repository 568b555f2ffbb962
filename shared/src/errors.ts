/**
 * One error type for the whole suite. Every failure that crosses a process boundary is a
 * `TaskmeshError` with a string code; on the wire it is `{ code, message }`.
 */

/** Every error code the suite uses, with its HTTP status and whether a retry can help. */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, retryable: false },
  INVALID_PAYLOAD: { status: 400, retryable: false },
  UNKNOWN_TYPE: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  UNKNOWN_WORKER: { status: 404, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  IDEMPOTENCY_CONFLICT: { status: 409, retryable: false },
  CONTRACT_CONFLICT: { status: 409, retryable: false },
  REQUEST_TIMEOUT: { status: 408, retryable: true },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  QUEUE_FULL: { status: 429, retryable: true },
  TOO_MANY_SUBSCRIBERS: { status: 503, retryable: true },
  TOO_MANY_STREAMS: { status: 503, retryable: true },
  TOO_MANY_LONG_POLLS: { status: 503, retryable: true },
  TOO_MANY_CONNECTIONS: { status: 503, retryable: true },
  BODY_BUDGET_FULL: { status: 503, retryable: true },
  REGISTRY_FULL: { status: 503, retryable: true },
  WORKER_BUSY: { status: 503, retryable: true },
  NO_WORKER: { status: 503, retryable: true },
  NO_ACK: { status: 504, retryable: true },
  WORKER_LOST: { status: 502, retryable: true },
  TIMEOUT: { status: 504, retryable: false },
  CANCELLED: { status: 409, retryable: false },
  SHUTTING_DOWN: { status: 503, retryable: true },
  HANDLER_FAILED: { status: 500, retryable: false },
  UNAVAILABLE: { status: 503, retryable: true },
  INTERNAL: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const isErrorCode = (value: unknown): value is ErrorCode => typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

/** The wire form of an error. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export interface TaskmeshErrorOptions {
  cause?: unknown;
  details?: unknown;
  /** Overrides the code's default. */
  retryable?: boolean;
}

export class TaskmeshError extends Error {
  override readonly name = 'TaskmeshError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: TaskmeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details;
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toJSON(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error received as `{ code, message }`; an unknown code becomes INTERNAL. */
  static fromBody(body: { code: string; message: string; details?: unknown }): TaskmeshError {
    const code = isErrorCode(body.code) ? body.code : 'INTERNAL';
    return new TaskmeshError(code, body.message, { details: body.details });
  }
}

/**
 * Turns anything thrown into a TaskmeshError, keeping the original as `cause`. An error that
 * carries a 4xx `status` (express's own, e.g. a malformed percent-encoding in a path) is the
 * client's: INVALID_REQUEST, or the code its status stands for.
 */
export function toTaskmeshError(err: unknown, fallback: ErrorCode = 'INTERNAL'): TaskmeshError {
  if (err instanceof TaskmeshError) return err;
  if (err instanceof Error) {
    const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500)
      return new TaskmeshError(CLIENT_STATUS_CODES[status] ?? 'INVALID_REQUEST', err.message, { cause: err });
    return new TaskmeshError(fallback, err.message, { cause: err });
  }
  return new TaskmeshError(fallback, String(err));
}

const CLIENT_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** What a task error code may look like on the wire. */
const TASK_ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * What a task handler throws to fail its task on purpose: a code of its own (`RATE_LIMITED`), a
 * message for whoever reads the task, and whether trying again may help. A retryable error is
 * retried with backoff, on another worker when there is one, up to the task's maxAttempts; any
 * other failure is final at once.
 */
export class TaskError extends Error {
  override readonly name = 'TaskError';
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = TASK_ERROR_CODE.test(code) ? code : 'HANDLER_FAILED';
    this.retryable = options.retryable === true;
  }
}

/** A handler's failure as it travels to the caller: code and message (never a stack), retryable when it says so. */
export function handlerFailure(err: unknown): { code: string; message: string; retryable?: boolean } {
  if (err instanceof TaskError || (err instanceof Error && err.name === 'TaskError' && typeof (err as TaskError).code === 'string')) {
    const task = err as TaskError;
    return task.retryable
      ? { code: task.code, message: task.message.slice(0, 4096), retryable: true }
      : { code: task.code, message: task.message.slice(0, 4096) };
  }
  const error = toTaskmeshError(err, 'HANDLER_FAILED');
  return { code: error.code, message: error.message.slice(0, 4096) };
}
