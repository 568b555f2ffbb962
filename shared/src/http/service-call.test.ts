import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TaskmeshError } from '../errors.js';
import { RequestVerifier, SIGNATURE_HEADER, deriveKey } from '../request-signing.js';
import { answerError, callService } from './service-call.js';

async function serve(
  t: { after(fn: () => unknown): void },
  handle: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a JSON body is parsed, any other is its text, an empty one is undefined; any status is an answer', async (t) => {
  const base = await serve(t, (req, _body, res) => {
    if (req.url === '/json') res.writeHead(404, { 'content-type': 'application/json' }).end('{"a":1}');
    else if (req.url === '/text') res.writeHead(502).end('<html>bad gateway</html>');
    else res.writeHead(204).end();
  });
  assert.deepEqual(await callService('x', { method: 'GET', url: `${base}/json`, timeoutMs: 2000 }), { status: 404, body: { a: 1 } });
  assert.deepEqual(await callService('x', { method: 'GET', url: `${base}/text`, timeoutMs: 2000 }), {
    status: 502,
    body: '<html>bad gateway</html>',
  });
  assert.deepEqual(await callService('x', { method: 'DELETE', url: `${base}/none`, timeoutMs: 2000 }), { status: 204, body: undefined });
});

test('a signed call carries a signature the callee verifies over its method, path and body', async (t) => {
  const key = deriveKey('a shared secret of some length', 'test');
  const verifier = new RequestVerifier(key);
  const seen: boolean[] = [];
  const base = await serve(t, (req, body, res) => {
    seen.push(verifier.verify({ method: req.method!, path: req.url!, body }, req.headers[SIGNATURE_HEADER] as string).ok);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await callService('x', { method: 'POST', url: `${base}/v1/thing?q=1`, body: { n: 1 }, key, timeoutMs: 2000 });
  await callService('x', {
    method: 'POST',
    url: `${base}/v1/thing?q=1`,
    body: { n: 1 },
    key: deriveKey('another secret entirely', 'test'),
    timeoutMs: 2000,
  });
  assert.deepEqual(seen, [true, false]);
});

test('no answer is UNAVAILABLE naming the service, where it was sought and why', async (t) => {
  const base = await serve(t, () => undefined); // never answers
  await assert.rejects(
    callService('monitoring', { method: 'GET', url: `${base}/slow`, timeoutMs: 200 }),
    (err: unknown) =>
      err instanceof TaskmeshError &&
      err.code === 'UNAVAILABLE' &&
      err.message === `monitoring at ${base} unreachable: no answer within 200 ms`,
  );
  // A port that was just free: nothing listens there.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise((resolve) => probe.close(resolve));
  await assert.rejects(
    callService('nameservice', { method: 'GET', url: `${closed}/v1/workers`, timeoutMs: 2000 }),
    (err: unknown) =>
      err instanceof TaskmeshError &&
      err.code === 'UNAVAILABLE' &&
      err.message.startsWith(`nameservice at ${closed} unreachable: ECONNREFUSED`),
  );
});

test("answerError: the service's own error when the body is one, else UNAVAILABLE naming the status", () => {
  const own = answerError(
    'nameservice',
    'lookup',
    { status: 404, body: { error: { code: 'UNKNOWN_WORKER', message: 'no such worker' } } },
    'http://ns',
  );
  assert.equal(own.code, 'UNKNOWN_WORKER');
  assert.equal(own.message, 'no such worker');
  const other = answerError('nameservice', 'lookup', { status: 502, body: '<html>' }, 'http://ns');
  assert.equal(other.code, 'UNAVAILABLE');
  assert.equal(other.message, 'nameservice lookup: unexpected HTTP 502 from http://ns');
});
