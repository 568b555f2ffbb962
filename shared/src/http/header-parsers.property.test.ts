import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { RequestVerifier } from '../request-signing.js';
import { parseTraceparent } from '../tracing/traceparent.js';
import { bearerToken } from './bearer-token.js';
import { isJsonRequest } from './json-body.js';
import { RequestGuard } from './request-guard.js';

/**
 * Every parser of a header a client sends, against headers a client could craft: each answers
 * in time linear in the header's length. A regular expression with neighbouring repetitions
 * (`\s+(\S.*?)\s*$`) took 0.6 s on 16,000 spaces, so about 10 s on 64 KiB (Node's largest header
 * block is 16 KiB, so this is four times what can arrive); a linear parse takes well under a
 * millisecond, and the bound leaves room for a loaded machine's pauses.
 */
const LINEAR_BOUND_MS = 250;

const request = (headers: Record<string, string>): IncomingMessage =>
  ({ headers, socket: { remoteAddress: '127.0.0.1' }, url: '/' }) as unknown as IncomingMessage;

const verifier = new RequestVerifier(Buffer.alloc(32, 1));
const guard = new RequestGuard({ allowedHosts: ['ops.example.com'] });

/** Each header parser, given one header value. */
const PARSERS: Array<[string, (value: string) => unknown]> = [
  ['authorization (bearer)', (v) => bearerToken(request({ authorization: v }))],
  ['traceparent', (v) => parseTraceparent(v)],
  ['x-taskmesh-signature', (v) => verifier.verify({ method: 'POST', path: '/', body: '' }, v)],
  ['host', (v) => guard.allows(request({ host: v }))],
  ['origin', (v) => guard.allows(request({ host: 'localhost:7200', origin: v }))],
  ['content-type', (v) => isJsonRequest(request({ 'content-type': v }))],
];

/** Headers of up to 64 KiB made of the pieces backtracking feeds on: runs of blanks, words, separators. */
const hostileHeader = fc
  .array(fc.constantFrom(' ', '\t', 'a', 'bearer', 'Bearer ', '=', ',', ';', '-', '.', ':', '00-', 'x'.repeat(64), ' '.repeat(1024)), {
    minLength: 1,
    maxLength: 200,
  })
  .chain((pieces) =>
    fc.nat({ max: 64 }).map((repeat) =>
      pieces
        .join('')
        .repeat(Math.max(1, repeat))
        .slice(0, 64 * 1024),
    ),
  );

for (const [name, parse] of PARSERS) {
  test(`property: the ${name} parser is linear: 64 KiB of hostile header in under ${LINEAR_BOUND_MS} ms`, () => {
    // The case that was quadratic, as a fixed point.
    for (const fixed of [`bearer a${' '.repeat(64 * 1024)}x`, ' '.repeat(64 * 1024), `${'a'.repeat(32 * 1024)}${' '.repeat(32 * 1024)}`]) {
      const started = performance.now();
      parse(fixed);
      assert.ok(performance.now() - started < LINEAR_BOUND_MS, `${name}: ${(performance.now() - started).toFixed(1)} ms`);
    }
    fc.assert(
      fc.property(hostileHeader, (header) => {
        const started = performance.now();
        parse(header);
        const ms = performance.now() - started;
        assert.ok(ms < LINEAR_BOUND_MS, `${name}: ${ms.toFixed(1)} ms on ${header.length} characters`);
      }),
      { numRuns: 100 },
    );
  });
}

test('property: the bearer token is what the old pattern read, for headers short enough to run it on', () => {
  // RFC 9110 whitespace in a header is space and tab; the old pattern's \s meant those here.
  const old = (header: string): string | undefined => /^[ \t]*bearer[ \t]+([^ \t].*?)[ \t]*$/i.exec(header)?.[1];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(' ', '\t', 'a', 'b', 'Bearer', 'bearer', 'BEARER', '.', '='), { maxLength: 12 }), (pieces) => {
      const header = pieces.join('');
      assert.equal(bearerToken(request({ authorization: header })), old(header), JSON.stringify(header));
    }),
    { numRuns: 2000 },
  );
});
