import type { ErrorRequestHandler, RequestHandler } from 'express';
import { TaskmeshError, type Logger } from '@taskmesh/shared';

/**
 * Turning bad input and thrown errors into `{"error":{"code","message"}}` answers.
 */

/** The part of a zod schema used here, so this file needs no zod import of its own. */
interface Schema<T> {
  safeParse(
    value: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }> } };
}

/**
 * Parses `value` with `schema`, or throws INVALID_REQUEST whose message names each bad field
 * by its zod issue path (prefixed with `where`, e.g. "body.port" or "query.state").
 */
export function parseOrThrow<T>(schema: Schema<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => {
    const path = [where, ...i.path.map(String)].join('.');
    return { path, message: i.message };
  });
  throw new TaskmeshError('INVALID_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { details: { issues } });
}

/** POST and PUT bodies must be JSON; without this check express leaves `req.body` undefined. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (!req.is('application/json')) {
    next(new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', 'the request body must be JSON (Content-Type: application/json)'));
    return;
  }
  next();
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new TaskmeshError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
};

/** body-parser marks its errors with a `type`; everything else unexpected is a 500 that is logged. */
function classify(err: unknown): TaskmeshError {
  if (err instanceof TaskmeshError) return err;
  const e = err as { type?: unknown; status?: unknown; message?: unknown };
  switch (e.type) {
    case 'entity.parse.failed':
      return new TaskmeshError('INVALID_REQUEST', `malformed JSON body: ${String(e.message)}`);
    case 'entity.too.large':
      return new TaskmeshError('PAYLOAD_TOO_LARGE', 'request body too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', String(e.message));
    default:
      break;
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new TaskmeshError('INVALID_REQUEST', typeof e.message === 'string' ? e.message : 'bad request');
  }
  return new TaskmeshError('INTERNAL', 'internal error', { cause: err });
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    const error = classify(err);
    if (error.code === 'INTERNAL')
      logger.error('request failed', { method: req.method, path: req.path, err: String((err as Error)?.stack ?? err) });
    if (res.headersSent) {
      next(err);
      return;
    }
    res.status(error.status).json({ error: error.toJSON() });
  };
}
