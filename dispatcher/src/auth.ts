import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { TaskmeshError, bearerToken, tokenMatches } from '@taskmesh/shared';

/**
 * Bearer-token check (the parsing and the constant-time comparison are shared with monitoring).
 * Browsers cannot set headers on a WebSocket, so upgrades may carry `?token=` instead.
 */
export class TokenAuth {
  private readonly expected: string | null;

  constructor(token: string | undefined) {
    this.expected = token === undefined || token === '' ? null : token;
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  /** Throws UNAUTHORIZED unless the request carries the token (or none is configured). */
  check(req: IncomingMessage, queryToken?: string | null): void {
    if (this.expected === null) return;
    const given = bearerToken(req) ?? queryToken ?? undefined;
    if (given === undefined || given === '') {
      throw new TaskmeshError('UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <TASKMESH_API_TOKEN>');
    }
    if (!tokenMatches(this.expected, given)) throw new TaskmeshError('UNAUTHORIZED', 'invalid bearer token');
  }

  middleware(): RequestHandler {
    return (req, _res, next) => {
      try {
        this.check(req);
        next();
      } catch (err) {
        next(err);
      }
    };
  }
}
