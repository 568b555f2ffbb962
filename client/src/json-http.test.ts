import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JsonHttpError, createJsonHttp, type JsonHttpBackend } from './json-http.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function serve(
  t: { after(fn: () => unknown): void },
  handler: Handler,
): Promise<{ url: string; connections: () => number; requests: EventEmitter }> {
  let connections = 0;
  const requests = new EventEmitter();
  const server = createServer((req, res) => {
    requests.emit('request');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`, connections: () => connections, requests };
}

for (const backend of ['axios', 'undici'] as JsonHttpBackend[]) {
  test(`${backend}: JSON in and out, query, headers, status passed through, kept-alive sockets`, async (t) => {
    const seen: Array<{ method?: string; url?: string; auth?: string; type?: string; body: string }> = [];
    const { url, connections } = await serve(t, (req, body, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
      res.writeHead(req.method === 'POST' ? 202 : 404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }));
    });
    const client = createJsonHttp({ backend, baseUrl: url, headers: { Authorization: 'Bearer t' } });
    t.after(() => client.close());
    const posted = await client.request({ method: 'POST', path: '/v1/tasks', query: { wait: 50, skip: undefined }, body: { a: 'é' } });
    assert.deepEqual(posted, { status: 202, data: { echo: { a: 'é' } }, path: '/base/v1/tasks?wait=50' });
    const got = await client.request({ method: 'GET', path: '/v1/tasks/x' });
    assert.equal(got.status, 404);
    assert.deepEqual(seen[0], {
      method: 'POST',
      url: '/base/v1/tasks?wait=50',
      auth: 'Bearer t',
      type: 'application/json',
      body: '{"a":"é"}',
    });
    assert.equal(seen[1]?.type, undefined);
    for (let i = 0; i < 10; i++) await client.request({ method: 'GET', path: '/v1/tasks/x' });
    // Kept alive: a pool may open a second socket while the first is being released, no more.
    assert.ok(connections() <= 2, `${connections()} connections for 12 requests`);
  });

  test(`${backend}: a body that is not JSON stays text; text is kept as asked; empty is undefined`, async (t) => {
    const { url } = await serve(t, (req, _body, res) => {
      if (req.url?.endsWith('/empty')) return void res.writeHead(204).end();
      res.writeHead(502, { 'Content-Type': 'text/html' }).end(req.url?.endsWith('/json') ? '{"n":1}' : '<h1>bad gateway</h1>');
    });
    const client = createJsonHttp({ backend, baseUrl: url });
    t.after(() => client.close());
    assert.equal((await client.request({ method: 'GET', path: '/html' })).data, '<h1>bad gateway</h1>');
    assert.equal((await client.request({ method: 'GET', path: '/json', text: true })).data, '{"n":1}');
    assert.equal((await client.request({ method: 'GET', path: '/empty' })).data, undefined);
  });

  test(`${backend}: no answer: timeout, refused connection and abort reject with a code`, async (t) => {
    const { url, requests } = await serve(t, () => undefined); // never answers
    const client = createJsonHttp({ backend, baseUrl: url, timeoutMs: 50 });
    t.after(() => client.close());
    await assert.rejects(
      client.request({ method: 'GET', path: '/slow' }),
      (err: unknown) => err instanceof JsonHttpError && err.code === 'ETIMEDOUT',
    );

    const refused = createJsonHttp({ backend, baseUrl: 'http://127.0.0.1:1' });
    t.after(() => refused.close());
    await assert.rejects(
      refused.request({ method: 'GET', path: '/' }),
      (err: unknown) => err instanceof JsonHttpError && err.code === 'ECONNREFUSED',
    );

    const abort = new AbortController();
    const aborting = createJsonHttp({ backend, baseUrl: url, signal: abort.signal });
    t.after(() => aborting.close());
    let warned = false;
    const onWarning = (): void => void (warned = true);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    // More requests in flight than an EventTarget's default listener limit, without a warning.
    const pending = Array.from({ length: 20 }, () => aborting.request({ method: 'GET', path: '/slow', timeoutMs: 0 }));
    let arrived = 0;
    await new Promise<void>((resolve) => requests.on('request', () => ++arrived === pending.length && resolve()));
    abort.abort(new Error('interrupted'));
    for (const p of pending) await assert.rejects(p, (err: unknown) => err instanceof JsonHttpError && err.code === 'ABORT_ERR');
    await assert.rejects(
      aborting.request({ method: 'GET', path: '/' }),
      (err: unknown) => err instanceof JsonHttpError && err.code === 'ABORT_ERR',
    );
    assert.equal(warned, false);
  });
}
