import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { TaskmeshError } from '@taskmesh/shared';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer-token check. Comparing digests keeps the comparison constant-time whatever the lengths.
 * Browsers cannot set headers on a WebSocket, so upgrades may carry `?token=` instead.
 */
export class TokenAuth {
  private readonly expected: Buffer | null;

  constructor(token: string | undefined) {
    this.expected = token === undefined || token === '' ? null : digest(token);
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  /** Throws UNAUTHORIZED unless the request carries the token (or none is configured). */
  check(req: IncomingMessage, queryToken?: string | null): void {
    if (this.expected === null) return;
    const header = req.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const given = bearer ?? queryToken ?? undefined;
    if (given === undefined || given === '') {
      throw new TaskmeshError('UNAUTHORIZED', 'missing bearer token: send Authorization: Bearer <TASKMESH_API_TOKEN>');
    }
    if (!timingSafeEqual(digest(given), this.expected)) throw new TaskmeshError('UNAUTHORIZED', 'invalid bearer token');
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
