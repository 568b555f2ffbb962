import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case), if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^\s*bearer\s+(\S.*?)\s*$/i.exec(header);
  return match?.[1];
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Whether `given` is the expected token, in constant time whatever the lengths (both are hashed
 * first). An empty or missing token never matches.
 */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined || given === '') return false;
  return timingSafeEqual(digest(expected), digest(given));
}
