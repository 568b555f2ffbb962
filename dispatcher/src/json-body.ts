import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import { TaskmeshError } from '@taskmesh/shared';

/** Whether a request is declared as JSON (`application/json`, any parameters): its body is read. */
export function isJsonRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type !== undefined && mediaOf(type) === 'application/json';
}

/**
 * Reads and parses a request's JSON body (the dispatcher's only body reader): `Content-Type:
 * application/json` in UTF-8, identity, gzip, deflate or br coding. Empty is `{}`; over `limit`
 * bytes (decoded) is 413, read off to the end first so the connection stays usable; malformed is
 * 400; another media type, charset or coding is 415 before anything is read.
 */
export function readJsonBody(req: IncomingMessage, limit: number, done: (err: TaskmeshError | undefined, body?: unknown) => void): void {
  const refused = mediaRefusal(req);
  if (refused !== undefined) return done(refused);
  let decoded: Readable = req;
  let decoder: Transform | undefined;
  const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (coding !== 'identity') {
    decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : createBrotliDecompress();
    decoded = req.pipe(decoder);
  }
  const declared = decoder === undefined ? Number(req.headers['content-length'] ?? Number.NaN) : Number.NaN;
  let over = declared > limit;
  let failed = false;
  let size = 0;
  const chunks: Buffer[] = [];
  decoded.on('data', (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      if (decoder !== undefined) {
        // Nothing more is decoded (a small body may inflate without end); the rest is read off.
        req.unpipe(decoder);
        decoder.destroy();
        afterRequest(req, () => done(tooLarge(limit)));
      }
    } else chunks.push(chunk);
  });
  decoder?.on('error', (err) => {
    if (over || failed) return;
    failed = true;
    req.unpipe(decoder);
    afterRequest(req, () => done(new TaskmeshError('INVALID_REQUEST', `malformed ${coding} body: ${err.message}`)));
  });
  decoded.on('end', () => {
    if (failed || (over && decoder !== undefined)) return;
    if (over) return done(tooLarge(limit));
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

/** Reads off what is left of the request, then calls `fn` (at once if it was read already). */
function afterRequest(req: IncomingMessage, fn: () => void): void {
  if (req.readableEnded) return fn();
  req.once('end', fn);
  req.resume();
}

const tooLarge = (limit: number): TaskmeshError =>
  new TaskmeshError('PAYLOAD_TOO_LARGE', `request body larger than ${limit} bytes (TASKMESH_MAX_BODY_BYTES)`);

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
