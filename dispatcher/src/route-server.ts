import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  JsonText,
  TaskmeshError,
  errorAnswer,
  isJsonRequest,
  logErrorAnswer,
  readJsonBody,
  type BodyBudget,
  type Logger,
} from '@taskmesh/shared';
import type { TokenAuth } from './auth.js';
import { bodyLimitOf } from './http-errors.js';
import type { Reply } from './task-handlers.js';
import type { Route, RouteRequest } from './task-routes.js';

export interface RouteServerOptions {
  routes: readonly Route[];
  auth: TokenAuth;
  maxBodyBytes: number;
  budget: BodyBudget;
  logger: Logger;
}

/** Serves a request whose route is in the table and returns true, or returns false and leaves it untouched. */
export type RouteServer = (req: IncomingMessage, res: ServerResponse) => boolean;

const JSON_TYPE = 'application/json; charset=utf-8';

interface CompiledRoute {
  route: Route;
  /** Per segment: the literal in lower case, or null for a parameter. */
  literals: Array<string | null>;
  names: string[];
}

/**
 * The task routes served straight from node:http, in front of express: express 5's router, body
 * parser and response helpers cost more CPU than a dispatch itself (on a small machine ~0.35 ms a
 * request). Paths match as express matches them (any case, one trailing slash, parameters
 * percent-decoded); the token is checked as the rest of the API checks it; errors are answered with
 * the same bodies and headers (errorAnswer). A request for another path is left to express.
 */
export function createRouteServer(options: RouteServerOptions): RouteServer {
  const bodyLimit = bodyLimitOf(options.maxBodyBytes);
  const compiled: CompiledRoute[] = options.routes.map((route) => {
    const segments = route.path.split('/').slice(1);
    return {
      route,
      literals: segments.map((s) => (s.startsWith(':') ? null : s.toLowerCase())),
      names: segments.filter((s) => s.startsWith(':')).map((s) => s.slice(1)),
    };
  });

  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    let out: string | Buffer;
    try {
      // An answer rendered already (a task record with its payload's text spliced in) goes as it is.
      out = body instanceof JsonText ? body.output() : JSON.stringify(body);
    } catch (err) {
      // Records are checked when they are made; this only guards the answer against a bug.
      options.logger.error('answer not serialisable', { error: err instanceof Error ? err.message : String(err) });
      status = 500;
      out = JSON.stringify({ error: { code: 'INTERNAL', message: 'the answer could not be serialised' } });
    }
    const length = typeof out === 'string' ? Buffer.byteLength(out) : out.length;
    res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': length });
    res.end(out);
  };
  const sendError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const { error, headers } = errorAnswer(err, bodyLimit);
    logErrorAnswer(options.logger, error, err, { method: req.method ?? '', path: req.url ?? '' });
    sendJson(res, error.status, { error: error.toJSON() }, headers);
  };
  const run = (req: IncomingMessage, res: ServerResponse, route: Route, request: RouteRequest): void => {
    const reply: Reply = { json: (status, body) => sendJson(res, status, body), onClose: (fn) => void res.on('close', fn) };
    try {
      const answered = route.handle(request, reply);
      if (answered instanceof Promise) answered.catch((err: unknown) => sendError(req, res, err));
    } catch (err) {
      sendError(req, res, err);
    }
  };

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const segments = (q < 0 ? url : url.slice(0, q)).split('/').slice(1);
    if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
    const found = compiled.find((c) => c.route.method === method && matches(c, segments));
    if (found === undefined) return false;
    try {
      options.auth.check(req);
      const params = paramsOf(found, segments);
      const query = q < 0 ? NO_QUERY : parseQuery(url.slice(q + 1));
      const { route } = found;
      const given = req.headers.traceparent;
      const traceparent = typeof given === 'string' ? given : undefined;
      if (route.body === undefined || (route.body === 'optional' && !isJsonRequest(req))) {
        run(req, res, route, { params, query, body: undefined, traceparent });
        return true;
      }
      readJsonBody(req, { limit: options.maxBodyBytes, limitVariable: 'TASKMESH_MAX_BODY_BYTES', budget: options.budget }, (err, body) => {
        if (err !== undefined) sendError(req, res, err);
        else run(req, res, route, { params, query, body, traceparent });
      });
    } catch (err) {
      sendError(req, res, err);
    }
    return true;
  };
}

const NO_QUERY: Readonly<Record<string, string | string[]>> = Object.freeze(Object.create(null) as Record<string, string | string[]>);

/**
 * The query as express's simple parser gives it (a repeated name: an array), on a prototype-less
 * object. `+` is a space; malformed percent-encoding is kept as sent, as URLSearchParams keeps it.
 */
function parseQuery(query: string): Record<string, string | string[]> {
  const parsed = Object.create(null) as Record<string, string | string[]>;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeQueryPart(pair.slice(eq + 1));
    const earlier = parsed[name];
    if (earlier === undefined) parsed[name] = value;
    else if (Array.isArray(earlier)) earlier.push(value);
    else parsed[name] = [earlier, value];
  }
  return parsed;
}

function decodeQueryPart(part: string): string {
  if (!part.includes('%') && !part.includes('+')) return part;
  const spaced = part.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

function matches(c: CompiledRoute, segments: string[]): boolean {
  if (segments.length !== c.literals.length) return false;
  return c.literals.every((literal, i) => {
    const segment = segments[i] as string;
    return literal === null ? segment !== '' : segment.toLowerCase() === literal;
  });
}

function paramsOf(c: CompiledRoute, segments: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  let n = 0;
  c.literals.forEach((literal, i) => {
    if (literal !== null) return;
    const raw = segments[i] as string;
    try {
      params[c.names[n++] as string] = decodeURIComponent(raw);
    } catch {
      throw new TaskmeshError('INVALID_REQUEST', `malformed percent-encoding in path segment "${raw.slice(0, 64)}"`);
    }
  });
  return params;
}
