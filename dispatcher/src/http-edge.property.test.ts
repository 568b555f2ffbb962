import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, rawRequest } from './test-support.js';

/**
 * Properties of the HTTP edge, against real processes: whatever path, method, headers and body a
 * client sends, the answer is never a 5xx from a bug and the process never goes down. (503 is a
 * cap or an unreachable upstream, named by its code, and is allowed.)
 */
let suite: LocalSuite;

before(async () => {
  suite = await startLocalSuite({
    workers: ['reverse'],
    dispatcher: true,
    monitoring: true,
    monitoringEnv: { DOCKER_HOST: 'unix:///nonexistent/taskmesh-test/docker.sock' },
  });
});
after(() => suite?.stop());

const segment = fc.constantFrom(
  'v1',
  'x:99999',
  'stream',
  'image',
  'tasks',
  'batch',
  'retry',
  'workers',
  'stats',
  'metrics',
  'healthz',
  'events',
  'api',
  'containers',
  'x',
  '..',
  '%',
  '%E0%A4%A',
  '%00',
  '%2F',
  'ü',
  ';',
  '~',
  '',
);
const query = fc.constantFrom(
  '',
  '?wait=1',
  '?wait=-1',
  '?wait=abc',
  '?wait=99999999',
  '?status=failed',
  '?limit=0',
  '?full=1',
  '?type=%ZZ',
  '?a=1&a=2',
  '?wait=1&wait=2',
  '?token=',
);
const path = fc.tuple(fc.array(segment, { maxLength: 5 }), query).map(([parts, q]) => `/${parts.join('/')}${q}`);
// `//host:port/...` as a request target: an authority where a path belongs.
const target = fc.oneof(
  path,
  path.map((p) => `/${p}`),
);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-16',
        'text/plain',
        'application/json; charset="UTF-8"',
        'multipart/form-data',
      ),
      headerValue,
    ),
    'content-encoding': fc.constantFrom('gzip', 'identity', 'br', 'x'),
    origin: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1', 'not a url'),
    host: fc.constantFrom('attacker.example', '127.0.0.1', 'localhost:1', '[::1]', 'a b', ''),
    authorization: fc.constantFrom('Bearer', 'Bearer x', 'Basic Zm9v', 'bearer  '),
    // Half of the requests ask for a WebSocket: the upgrade path parses them on its own.
    connection: fc.constantFrom('Upgrade', 'keep-alive'),
    upgrade: fc.constantFrom('websocket', 'h2c'),
    'sec-websocket-key': fc.constant('dGhlIHNhbXBsZSBub25jZQ=='),
    'sec-websocket-version': fc.constantFrom('13', '8'),
    'x-random': headerValue,
  },
  { requiredKeys: [] },
);
const deep = fc.integer({ min: 1, max: 20_000 }).map((n) => `{"type":"reverse","payload":${'['.repeat(n)}${']'.repeat(n)}}`);
const taskLike = fc
  .record(
    {
      type: fc.constantFrom('reverse', 'hash', 'sum', 'upper', 'wait', 'image', 'nope', ''),
      payload: fc.jsonValue({ maxDepth: 4 }),
      idempotencyKey: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    },
    { requiredKeys: ['type'] },
  )
  .map((t) => JSON.stringify(t));
const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  deep,
  taskLike,
  taskLike.map((t) => `{"tasks":[${t},${t}]}`),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

for (const service of ['dispatcher', 'monitoring'] as const) {
  test(`property: no request makes the ${service} answer a 5xx from a bug or go down`, async () => {
    const running = suite[service]!;
    const base = service === 'dispatcher' ? suite.dispatcherUrl! : suite.monitoringUrl!;
    await fc.assert(
      fc.asyncProperty(method, target, headers, body, async (m, p, h, b) => {
        let answer: { status: number; body: unknown };
        try {
          answer = await rawRequest(base, { method: m, path: p, headers: h, ...(b === undefined ? {} : { body: b }) });
        } catch (err) {
          const code = (err as { code?: string }).code;
          // Refused by the client library before sending (an invalid header value): not a request.
          if (err instanceof TypeError || code === 'ERR_INVALID_CHAR') return;
          // Answered before the body was read, then the rest of the body was refused: the server
          // cut the connection, which is its right; a crash shows below (the exit code, and every
          // later request refused).
          if (code === 'ECONNRESET' || code === 'EPIPE') return;
          throw err;
        }
        const code = (answer.body as { error?: { code?: string } } | undefined)?.error?.code;
        assert.ok(
          answer.status < 500 || (answer.status === 503 && code !== undefined && code !== 'INTERNAL'),
          `${m} ${p} ${JSON.stringify(h)} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`,
        );
      }),
      { numRuns: 300 },
    );
    assert.equal(running.proc.exitCode, null, `${service} exited`);
    if (service === 'dispatcher') {
      const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'ok' } } });
      assert.equal(r.body.status, 'succeeded');
    } else {
      assert.equal((await fetch(`${base}/api/workers`)).status, 200);
    }
  });
}
