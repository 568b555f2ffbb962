import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import { TaskmeshError } from '../errors.js';
import type { BodyBudget } from './body-budget.js';

/** Whether a request is declared as JSON (`application/json`, any parameters): its body is read. */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type !== undefined && mediaOf(type) === 'application/json';
}

export interface JsonBodyOptions {
  /** The largest body, decoded. */
  limit: number;
  /** The variable that sets `limit`, named in a 413. */
  limitVariable: string;
  /** The process's budget of body bytes in flight, and the inflation cap of compressed bodies. */
  budget: BodyBudget;
}

/** A body as read: parsed, and the decoded bytes it was parsed from (for a signature check). */
export type JsonBodyDone = (err: TaskmeshError | undefined, body?: unknown, raw?: Buffer) => void;

/**
 * Reads and parses a request's JSON body (the one body reader of every service): `Content-Type:
 * application/json` in UTF-8, identity, gzip, deflate or br coding. Empty is `{}`; over `limit`
 * bytes (decoded) or decoding to more than the inflation cap allows is 413, over the process's
 * body budget is 503 BODY_BUDGET_FULL; each is answered at once, and its connection closed
 * after the answer. Malformed is 400; another media type, charset or coding is 415
 * before anything is read. What a body holds of the budget is given back once it is parsed or
 * refused, and when its client goes away.
 */
export function readJsonBody(req: IncomingMessage, options: JsonBodyOptions, done: JsonBodyDone): void {
  const refused = mediaRefusal(req);
  if (refused !== undefined) return done(refused);
  const { limit, budget } = options;
  let decoded: Readable = req;
  let decoder: Transform | undefined;
  let received = 0;
  const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (coding !== 'identity') {
    decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : createBrotliDecompress();
    decoded = req.pipe(decoder);
  }
  const declared = decoder === undefined ? Number(req.headers['content-length'] ?? Number.NaN) : Number.NaN;
  let refusal: TaskmeshError | undefined;
  let failed = false;
  let size = 0;
  let held = 0;
  const chunks: Buffer[] = [];
  const release = (): void => {
    budget.give(held);
    held = 0;
    chunks.length = 0;
  };
  // A body refused before its end is answered at once and its connection closed after the answer:
  // reading off the rest would let a client that declared gigabytes, or sends a byte a minute,
  // hold the connection; nothing more of it is decoded or kept.
  const refuse = (error: TaskmeshError): void => {
    refusal = error;
    release();
    if (decoder !== undefined) {
      req.unpipe(decoder);
      decoder.destroy();
    }
    done(error);
    closeAfterAnswer(req);
  };
  if (declared > limit) return refuse(tooLarge(options));
  if (decoder !== undefined) {
    req.on('data', (chunk: Buffer) => {
      // A decoder's window is memory too (a brotli one up to 16 MiB, from a body of 28 bytes): it
      // is taken from the budget with the first bytes, whose header says how large it is.
      if (received === 0 && chunk.length > 0 && refusal === undefined) {
        const window = decoderWindowBytes(coding, chunk[0]!);
        if (!budget.take(window)) return refuse(budgetFull(budget));
        held += window;
      }
      received += chunk.length;
    });
  }
  decoded.on('data', (chunk: Buffer) => {
    if (refusal !== undefined) return;
    size += chunk.length;
    if (size > limit) return refuse(tooLarge(options));
    if (decoder !== undefined && budget.overInflated(size, received)) return refuse(overInflated(budget));
    if (!budget.take(chunk.length)) return refuse(budgetFull(budget));
    held += chunk.length;
    chunks.push(chunk);
  });
  decoder?.on('error', (err) => {
    if (refusal !== undefined || failed) return;
    failed = true;
    release();
    req.unpipe(decoder);
    afterRequest(req, () => done(new TaskmeshError('INVALID_REQUEST', `malformed ${coding} body: ${err.message}`)));
  });
  decoded.on('end', () => {
    if (failed || refusal !== undefined) return;
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const text = raw.toString('utf8').replace(/^\uFEFF/, '');
    let body: unknown;
    try {
      body = text.length === 0 ? {} : JSON.parse(text);
    } catch (err) {
      release();
      return done(new TaskmeshError('INVALID_REQUEST', `malformed JSON body: ${(err as Error).message}`));
    }
    release();
    done(undefined, body, raw);
  });
  // A client that went away gets no answer; the request is simply dropped, its bytes given back.
  req.on('error', () => undefined);
  req.once('close', () => {
    if (req.readableEnded) return;
    refusal ??= new TaskmeshError('INVALID_REQUEST', 'the client went away before its body ended');
    decoder?.destroy();
    release();
  });
}

/**
 * The memory a decoder of `coding` holds, from a body's first byte: gzip and deflate use a 32 KiB
 * window; brotli's window (RFC 7932, 9.1) is 2^WBITS bytes, WBITS in the stream's first bits (16
 * to 24 without the large-window extension, which Node's decoder refuses).
 */
function decoderWindowBytes(coding: string, first: number): number {
  if (coding !== 'br') return 64 * 1024;
  let wbits: number;
  if ((first & 1) === 0) wbits = 16;
  else if (((first >> 1) & 7) !== 0) wbits = 17 + ((first >> 1) & 7);
  else wbits = ((first >> 4) & 7) === 0 ? 17 : 8 + ((first >> 4) & 7);
  return 2 ** Math.min(24, Math.max(10, wbits));
}

/**
 * Ends the connection once the answer written now has left: the client still sending a body
 * it was told is refused gets no more reads, and one that does not read the answer either is cut
 * off shortly after.
 */
function closeAfterAnswer(req: IncomingMessage): void {
  req.pause();
  const socket = req.socket;
  setImmediate(() => {
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });
}

/** How long a refused client has to read its answer before its connection is cut. */
const CLOSE_GRACE_MS = 2000;

/** Reads off what is left of the request, then calls `fn` (at once if it was read already). */
function afterRequest(req: IncomingMessage, fn: () => void): void {
  if (req.readableEnded) return fn();
  req.once('end', fn);
  req.resume();
}

const tooLarge = ({ limit, limitVariable }: JsonBodyOptions): TaskmeshError =>
  new TaskmeshError('PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes (${limitVariable})`, {
    details: { limit: limitVariable, max: limit },
  });

const overInflated = (budget: BodyBudget): TaskmeshError =>
  new TaskmeshError(
    'PAYLOAD_TOO_LARGE',
    `compressed body decodes to more than ${budget.maxInflation} times its size (TASKMESH_HTTP_MAX_INFLATION)`,
    { details: { limit: 'TASKMESH_HTTP_MAX_INFLATION', max: budget.maxInflation } },
  );

const budgetFull = (budget: BodyBudget): TaskmeshError =>
  new TaskmeshError(
    'BODY_BUDGET_FULL',
    `request bodies being read already hold ${budget.totalBytes} bytes (TASKMESH_HTTP_BODY_BUDGET_BYTES): retry shortly`,
    { details: { limit: 'TASKMESH_HTTP_BODY_BUDGET_BYTES', max: budget.totalBytes } },
  );

const CODINGS = new Set(['identity', 'gzip', 'x-gzip', 'deflate', 'br']);

function mediaRefusal(req: IncomingMessage): TaskmeshError | undefined {
  const type = req.headers['content-type'];
  if (type === undefined || mediaOf(type) !== 'application/json') {
    return new TaskmeshError(
      'UNSUPPORTED_MEDIA_TYPE',
      `expected Content-Type: application/json, got ${type === undefined ? 'none' : JSON.stringify(type)}`,
    );
  }
  for (const param of type.split(';').slice(1)) {
    const [key, value = ''] = param.split('=');
    if (key?.trim().toLowerCase() !== 'charset') continue;
    const charset = value.trim().replace(/^"|"$/g, '').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      return new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', `unsupported charset "${charset}": send UTF-8`);
  }
  const coding = req.headers['content-encoding'];
  if (coding !== undefined && !CODINGS.has(coding.trim().toLowerCase())) {
    return new TaskmeshError('UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Encoding "${coding}": send identity, gzip, deflate or br`);
  }
  return undefined;
}

function mediaOf(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * readJsonBody as an express middleware, for the services whose routes express serves: a JSON
 * request's body is parsed into `req.body` (and its decoded bytes kept in `req.rawBody`, for a
 * signature check); a request of another media type passes untouched (its route refuses it).
 */
export function jsonBodyParser(options: JsonBodyOptions) {
  return (req: IncomingMessage & { body?: unknown; rawBody?: Buffer }, _res: unknown, next: (err?: unknown) => void): void => {
    if (!isJsonRequest(req)) return next();
    readJsonBody(req, options, (err, body, raw) => {
      if (err !== undefined) return next(err);
      req.body = body;
      req.rawBody = raw;
      next();
    });
  };
}
