import type { IncomingMessage, ServerResponse } from 'node:http';
import { TaskmeshError, errorAnswer, logErrorAnswer, type Logger } from '@taskmesh/shared';
import type { TokenAuth } from './auth.js';
import { bodyLimitOf } from './http-errors.js';
import type { Reply, TaskHandlers } from './task-handlers.js';

export interface FastLaneOptions {
  handlers: TaskHandlers;
  auth: TokenAuth;
  maxBodyBytes: number;
  logger: Logger;
}

/** Takes a request and returns true, or returns false and leaves it untouched for express. */
export type FastLane = (req: IncomingMessage, res: ServerResponse) => boolean;

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The busiest routes — POST /v1/tasks[?wait], POST /v1/tasks/batch, GET /v1/tasks/:id[?wait] —
 * served straight from node:http, in front of express: express 5's router, body parser and
 * response helpers cost more CPU than the dispatch itself (on a small machine ~0.35 ms a request,
 * a quarter of a millisecond of latency). Only the plain case is taken: the canonical path, a JSON
 * body without content coding, a valid token when one is set. Anything else (another spelling,
 * another media type, a missing token) falls through to express untouched, so every refusal keeps
 * one implementation. The answers are the same as express's: same handlers (TaskHandlers), same
 * error bodies and headers (errorAnswer).
 */
export function createFastLane(options: FastLaneOptions): FastLane {
  const bodyLimit = bodyLimitOf(options.maxBodyBytes);
  const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    let text: string;
    try {
      text = JSON.stringify(body);
    } catch (err) {
      // Records are checked when they are made; this only guards the answer against a bug.
      options.logger.error('answer not serialisable', { error: err instanceof Error ? err.message : String(err) });
      status = 500;
      text = JSON.stringify({ error: { code: 'INTERNAL', message: 'the answer could not be serialised' } });
    }
    res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const sendError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const { error, headers } = errorAnswer(err, bodyLimit);
    logErrorAnswer(options.logger, error, err, { method: req.method ?? '', path: req.url ?? '' });
    sendJson(res, error.status, { error: error.toJSON() }, headers);
  };
  const run = (req: IncomingMessage, res: ServerResponse, handle: (reply: Reply) => void): void => {
    const reply: Reply = { json: (status, body) => sendJson(res, status, body), onClose: (fn) => void res.on('close', fn) };
    try {
      handle(reply);
    } catch (err) {
      sendError(req, res, err);
    }
  };

  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let route: 'submit' | 'batch' | 'get' | undefined;
    let id = '';
    if (req.method === 'POST') {
      if (path === '/v1/tasks') route = 'submit';
      else if (path === '/v1/tasks/batch') route = 'batch';
    } else if (req.method === 'GET' && path.startsWith('/v1/tasks/')) {
      const raw = path.slice('/v1/tasks/'.length);
      const decoded = raw === '' || raw.includes('/') ? undefined : decodeSegment(raw);
      if (decoded !== undefined) {
        route = 'get';
        id = decoded;
      }
    }
    if (route === undefined) return false;
    if (route !== 'get' && !isPlainJson(req)) return false;
    if (options.auth.enabled) {
      try {
        options.auth.check(req);
      } catch {
        return false; // express answers 401
      }
    }
    const wait = q < 0 ? undefined : queryParam(url.slice(q + 1), 'wait');
    if (route === 'get') {
      run(req, res, (reply) => options.handlers.get(id, wait, reply));
      return true;
    }
    readJsonBody(req, options.maxBodyBytes, (err, body) => {
      if (err !== undefined) return sendError(req, res, err);
      if (route === 'submit') run(req, res, (reply) => options.handlers.submit(wait, body, reply));
      else run(req, res, (reply) => options.handlers.submitBatch(body, reply));
    });
    return true;
  };
}

/** `application/json`, at most with `charset=utf-8`, and no content coding: what we parse here. */
function isPlainJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  const [media, ...params] = type.split(';');
  if (media?.trim().toLowerCase() !== 'application/json') return false;
  for (const param of params) {
    const [key, value] = param.split('=');
    if (key?.trim().toLowerCase() !== 'charset' || value?.trim().replace(/^"|"$/g, '').toLowerCase() !== 'utf-8') return false;
  }
  const coding = req.headers['content-encoding'];
  return coding === undefined || coding.toLowerCase() === 'identity';
}

function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined; // express says what is wrong with it
  }
}

/** One query parameter as express's simple parser gives it: a string, an array if repeated. */
function queryParam(query: string, name: string): string | string[] | undefined {
  const all = new URLSearchParams(query).getAll(name);
  return all.length === 0 ? undefined : all.length === 1 ? all[0] : all;
}

/**
 * Reads and parses a JSON body as express.json({strict: false}) does: empty is `{}`, over the
 * limit is 413 (read off to the end first, so the connection stays usable), malformed is 400.
 */
function readJsonBody(req: IncomingMessage, limit: number, done: (err: TaskmeshError | undefined, body?: unknown) => void): void {
  const tooLarge = (): TaskmeshError =>
    new TaskmeshError('PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes (TASKMESH_MAX_BODY_BYTES)`);
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  let over = declared > limit;
  let size = 0;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > limit) {
      over = true;
      chunks.length = 0;
    } else chunks.push(chunk);
  });
  req.on('end', () => {
    if (over) return done(tooLarge());
    const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8').replace(/^\uFEFF/, '');
    if (text.length === 0) return done(undefined, {});
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return done(new TaskmeshError('INVALID_REQUEST', `malformed JSON body: ${(err as Error).message}`));
    }
    done(undefined, body);
  });
  // A client that went away gets no answer; the request is simply dropped.
  req.on('error', () => undefined);
}
