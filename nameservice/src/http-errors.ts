import type { RequestHandler } from 'express';
import { TaskmeshError } from '@taskmesh/shared';

/**
 * Turning bad input and thrown errors into `{"error":{"code","message"}}` answers.
 */

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
