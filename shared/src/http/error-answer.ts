import { TaskmeshError, toTaskmeshError } from '../errors.js';
import type { Logger } from '../logger.js';

/** Seconds a client is told to wait after 429 QUEUE_FULL. */
export const QUEUE_FULL_RETRY_AFTER_S = 1;

export interface ErrorAnswerOptions {
  /** The body limit, to say in a 413 what it is and which variable sets it. */
  bodyLimit?: { bytes: number; variable?: string };
}

/** body-parser marks its errors with a `type`: each becomes the API's code. */
function fromBodyParser(err: unknown, options: ErrorAnswerOptions): TaskmeshError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const { type, message } = err as { type: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : 'bad request body';
  switch (type) {
    case 'entity.parse.failed':
      return new TaskmeshError('INVALID_REQUEST', `malformed JSON body: ${text}`);
    case 'entity.too.large': {
      const limit = options.bodyLimit;
      const says = limit === undefined ? '' : ` than ${limit.bytes} bytes${limit.variable === undefined ? '' : ` (${limit.variable})`}`;
      return new TaskmeshError('PAYLOAD_TOO_LARGE', `request body larger${says}`);
    }
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', text);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new TaskmeshError('INVALID_REQUEST', text);
    default:
      return undefined;
  }
}

/**
 * What any thrown value answers with, for every service and both HTTP layers of the dispatcher:
 * the error (its status from the error table), and extra headers (`Retry-After` on QUEUE_FULL). An
 * unexpected error is INTERNAL with no detail for the client (its stack goes to the log).
 */
export function errorAnswer(err: unknown, options: ErrorAnswerOptions = {}): { error: TaskmeshError; headers: Record<string, string> } {
  const converted = fromBodyParser(err, options) ?? toTaskmeshError(err);
  const error =
    converted.code === 'INTERNAL' && !(err instanceof TaskmeshError)
      ? new TaskmeshError('INTERNAL', 'internal error', { cause: err })
      : converted;
  return { error, headers: error.code === 'QUEUE_FULL' ? { 'Retry-After': String(QUEUE_FULL_RETRY_AFTER_S) } : {} };
}

/** An unexpected failure is logged at error with its stack; a refused request at most at debug. */
export function logErrorAnswer(logger: Logger, error: TaskmeshError, err: unknown, request: { method: string; path: string }): void {
  if (error.code === 'INTERNAL') logger.error('request failed', { ...request, error: err instanceof Error ? err.stack : String(err) });
  else if (logger.isDebugEnabled()) logger.debug('request refused', { ...request, code: error.code, error: error.message });
}

interface ErrorRequest {
  method: string;
  path: string;
}
interface ErrorResponseWriter {
  headersSent: boolean;
  set(headers: Record<string, string>): unknown;
  status(code: number): { json(body: unknown): unknown };
}

/** The last express middleware of every service: `{"error":{"code","message"}}` with its status. */
export function expressErrorHandler(logger: Logger, options: ErrorAnswerOptions = {}) {
  return (err: unknown, req: ErrorRequest, res: ErrorResponseWriter, next: (err: unknown) => void): void => {
    const { error, headers } = errorAnswer(err, options);
    logErrorAnswer(logger, error, err, { method: req.method, path: req.path });
    if (res.headersSent) {
      next(err);
      return;
    }
    res.set(headers);
    res.status(error.status).json({ error: error.toJSON() });
  };
}
