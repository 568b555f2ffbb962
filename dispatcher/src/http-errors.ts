import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { TaskmeshError, type ErrorAnswerOptions } from '@taskmesh/shared';

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

/** How the dispatcher's body limit is named in a 413. */
export const bodyLimitOf = (maxBodyBytes: number): ErrorAnswerOptions => ({
  bodyLimit: { bytes: maxBodyBytes, variable: 'TASKMESH_MAX_BODY_BYTES' },
});

export const notFound: RequestHandler = (req: Request, _res, next) => {
  next(new TaskmeshError('NOT_FOUND', `no route ${req.method} ${req.path}`));
};
