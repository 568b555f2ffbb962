import type { RequestHandler } from 'express';
import { TaskmeshError } from '@taskmesh/shared';

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
