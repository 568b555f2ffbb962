import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { z } from 'zod';
import { TaskmeshError, toTaskmeshError, type Logger } from '@taskmesh/shared';

/** Seconds a client is told to wait after 429 QUEUE_FULL. */
const QUEUE_FULL_RETRY_AFTER_S = 1;

/** Parses a request part with a schema; a failure is a 400 naming each offending path. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  const message = `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`;
  throw new TaskmeshError('INVALID_REQUEST', message, { details: { issues } });
}

/** POST bodies must be JSON; anything else is 415 (before it is read at all). */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (req.is('application/json')) {
    next();
    return;
  }
  const got = req.headers['content-type'];
  next(
    new TaskmeshError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected Content-Type: application/json, got ${got === undefined ? 'none' : JSON.stringify(got)}`,
    ),
  );
};

/** Turns body-parser's errors into the API's codes. */
function fromBodyParser(err: unknown, maxBodyBytes: number): TaskmeshError | undefined {
  if (typeof err !== 'object' || err === null || !('type' in err)) return undefined;
  const e = err as { type: unknown; message?: unknown };
  switch (e.type) {
    case 'entity.parse.failed':
      return new TaskmeshError('INVALID_REQUEST', `malformed JSON body: ${String(e.message)}`);
    case 'entity.too.large':
      return new TaskmeshError('PAYLOAD_TOO_LARGE', `request body larger than ${maxBodyBytes} bytes (TASKMESH_MAX_BODY_BYTES)`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', String(e.message));
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new TaskmeshError('INVALID_REQUEST', String(e.message));
    default:
      return undefined;
  }
}

/** What an error answers with: its TaskmeshError (status, body) and any extra headers. */
export function errorAnswer(err: unknown, maxBodyBytes: number): { error: TaskmeshError; headers: Record<string, string> } {
  const error = fromBodyParser(err, maxBodyBytes) ?? toTaskmeshError(err);
  return { error, headers: error.code === 'QUEUE_FULL' ? { 'Retry-After': String(QUEUE_FULL_RETRY_AFTER_S) } : {} };
}

/** The last middleware: every error becomes `{"error":{"code","message"}}` with its status. */
export function errorHandler(logger: Logger, maxBodyBytes: number): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { error, headers } = errorAnswer(err, maxBodyBytes);
    if (error.status >= 500 && error.code === 'INTERNAL')
      logger.error('request failed', { method: req.method, path: req.path, error: err instanceof Error ? err.stack : String(err) });
    if (res.headersSent) {
      res.end();
      return;
    }
    res.set(headers);
    res.status(error.status).json({ error: error.toJSON() });
  };
}

export const notFound: RequestHandler = (req: Request, _res, next) => {
  next(new TaskmeshError('NOT_FOUND', `no route ${req.method} ${req.path}`));
};
