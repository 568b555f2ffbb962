import type { Request, RequestHandler } from 'express';
import { TaskmeshError, type ErrorAnswerOptions } from '@taskmesh/shared';

/** How the dispatcher's body limit is named in a 413. */
export const bodyLimitOf = (maxBodyBytes: number): ErrorAnswerOptions => ({
  bodyLimit: { bytes: maxBodyBytes, variable: 'TASKMESH_MAX_BODY_BYTES' },
});

export const notFound: RequestHandler = (req: Request, _res, next) => {
  next(new TaskmeshError('NOT_FOUND', `no route ${req.method} ${req.path}`));
};
