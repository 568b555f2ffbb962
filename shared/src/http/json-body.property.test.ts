import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { createHttpServer, type HttpGuard } from './http-limits.js';
import { readJsonBody } from './json-body.js';

/**
 * The one body reader of every service, through a real HTTP server on 127.0.0.1: any JSON in any
 * coding, sent in any chunks, reads back as sent; any bytes at all are an answer, never a crash;
 * whatever happens, every byte a body took from the budget is given back.
 */
const LIMIT = 256 * 1024;
let guard: HttpGuard;
let port: number;
let server: Server | undefined;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

before(async () => {
  const created = createHttpServer({ bodyBudgetBytes: 64 * 1024 * 1024, maxInflation: 50 });
  guard = created.guard;
  created.server.on('request', (req, res) => {
    readJsonBody(req, { limit: LIMIT, limitVariable: 'LIMIT', budget: guard.budget }, (err, body) => {
      const answer = err === undefined ? { body } : { error: err.toJSON() };
      res.writeHead(err === undefined ? 200 : err.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  created.server.listen(0, '127.0.0.1');
  await once(created.server, 'listening');
  port = (created.server.address() as AddressInfo).port;
  server = created.server;
});
after(() => {
  agent.destroy();
  server?.closeAllConnections();
  server?.close();
});

const encoders: Record<string, (b: Buffer) => Buffer> = {
  identity: (b) => b,
  gzip: gzipSync,
  deflate: deflateSync,
  br: brotliCompressSync,
};

/** Sends `bytes` in `cuts` pieces with the given coding; resolves with the status and parsed answer. */
function send(bytes: Buffer, coding: string, cuts: number[]): Promise<{ status: number; answer: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/',
        agent,
        headers: { 'content-type': 'application/json', 'content-encoding': coding, 'content-length': bytes.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, answer: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    let at = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      const to = Math.min(bytes.length, cut);
      if (to > at) req.write(bytes.subarray(at, to));
      at = Math.max(at, to);
    }
    req.end(bytes.subarray(at));
  });
}

const codings = fc.constantFrom('identity', 'gzip', 'deflate', 'br');

test('property: any JSON value in any coding and any chunking reads back as sent; the budget is whole again after', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.jsonValue({ maxDepth: 6 }),
      codings,
      fc.array(fc.nat({ max: 4096 }), { maxLength: 6 }),
      async (value, coding, cuts) => {
        const text = JSON.stringify(value);
        const { status, answer } = await send(encoders[coding]!(Buffer.from(text)), coding, cuts);
        if (Buffer.byteLength(text) > LIMIT) assert.equal(status, 413);
        else {
          assert.equal(status, 200, JSON.stringify(answer));
          // JSON has no -0: it reads back as 0, as JSON.parse gives it.
          assert.deepEqual(answer.body, JSON.parse(text));
        }
        assert.equal(guard.budget.inUse, 0);
      },
    ),
    { numRuns: 150 },
  );
});

test('property: any bytes under any coding header get an answer (200, 400, 413 or 415), and give their budget back', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 2048 }),
      fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'compress'),
      fc.boolean(),
      async (bytes, coding, encode) => {
        const body = encode && coding in encoders ? encoders[coding]!(Buffer.from(bytes)) : Buffer.from(bytes);
        const { status } = await send(body, coding, []);
        assert.ok([200, 400, 413, 415].includes(status), `status ${status}`);
        assert.equal(guard.budget.inUse, 0);
      },
    ),
    { numRuns: 150 },
  );
});

test('a compressed body that decodes past the inflation cap is 413 naming TASKMESH_HTTP_MAX_INFLATION, decoded no further', async () => {
  const bomb = brotliCompressSync(Buffer.alloc(8 * 1024 * 1024, ' '));
  const before = guard.budget.refused.inflation;
  const { status, answer } = await send(bomb, 'br', []);
  assert.equal(status, 413);
  assert.equal(answer.error.details.limit, 'TASKMESH_HTTP_MAX_INFLATION');
  assert.equal(guard.budget.refused.inflation, before + 1);
  assert.equal(guard.budget.inUse, 0);
});
