import type { IncomingMessage } from 'node:http';
import { bearerToken, requestUrl, tokenMatches } from '@taskmesh/shared';

/**
 * TASKMESH_API_TOKEN enforcement. The API accepts `Authorization: Bearer <token>`; the page
 * is opened once with `?token=<token>`, which sets an HttpOnly, SameSite=Strict cookie so the
 * page's own requests and WebSockets carry it without the token living in JavaScript.
 */
export const TOKEN_COOKIE = 'taskmesh_token';
export const TOKEN_QUERY = 'token';

/** The shared constant-time comparison, for the module's callers. */
export { tokenMatches };

function cookieOf(req: IncomingMessage, name = TOKEN_COOKIE): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function queryTokenOf(req: IncomingMessage): string | undefined {
  const url = requestUrl(req.url);
  return url.searchParams.get(TOKEN_QUERY) ?? undefined;
}

/** Which credential of a request matched, if any. */
export type Credential = 'bearer' | 'cookie' | 'query' | 'none-required';

export function authenticate(token: string | undefined, req: IncomingMessage, allowQuery: boolean): Credential | null {
  if (token === undefined) return 'none-required';
  if (tokenMatches(token, bearerToken(req))) return 'bearer';
  if (tokenMatches(token, cookieOf(req))) return 'cookie';
  if (allowQuery && tokenMatches(token, queryTokenOf(req))) return 'query';
  return null;
}

/** The Set-Cookie value that remembers the token for the page. */
export function tokenCookie(token: string, secure: boolean): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * A browser sends cookies on cross-site WebSocket handshakes too; a cookie-authenticated upgrade
 * must come from a page of our own origin (bearer and query credentials are not ambient).
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
