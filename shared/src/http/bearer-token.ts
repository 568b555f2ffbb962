import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Characters an HTTP header may carry as whitespace (RFC 9110: space and tab). */
const isBlank = (code: number): boolean => code === 0x20 || code === 0x09;

/**
 * The token of an `Authorization: Bearer <token>` header (the scheme in any case), if any. Read by
 * index and slice, not by a regular expression: a header is the client's, and a pattern with two
 * neighbouring repetitions of whitespace backtracks quadratically on a header of spaces.
 */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length && isBlank(header.charCodeAt(start))) start++;
  if (header.slice(start, start + 6).toLowerCase() !== 'bearer') return undefined;
  let at = start + 6;
  if (at >= header.length || !isBlank(header.charCodeAt(at))) return undefined;
  let end = header.length;
  while (at < end && isBlank(header.charCodeAt(at))) at++;
  while (end > at && isBlank(header.charCodeAt(end - 1))) end--;
  return at < end ? header.slice(at, end) : undefined;
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
