import type { Request, RequestHandler } from 'express';
import { TaskmeshError, type ErrorAnswerOptions } from '@taskmesh/shared';

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
