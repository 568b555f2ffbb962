import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { eventually } from '../testing/eventually.js';
import { createHttpServer, type HttpLimits } from './http-limits.js';

/** A real server on 127.0.0.1 that answers each request with the client it counts against. */
async function serve(t: { after: (fn: () => void) => void }, limits: Partial<HttpLimits>) {
  const { server, guard } = createHttpServer(limits);
  server.on('request', (req, res) => res.end(guard.clientOf(req)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, guard };
}

const clientSeen = (port: number, headers: Record<string, string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });

/** `n` connections to 127.0.0.1 from `from` (another loopback address is another client of this host). */
const openSockets = (port: number, n: number, from = '127.0.0.2'): Promise<Socket[]> =>
  Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve) => {
          const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
        }),
    ),
  );

test("a request counts against its peer's address; X-Forwarded-For is believed only from TASKMESH_TRUSTED_PROXIES", async (t) => {
  const untrusted = await serve(t, {});
  assert.equal(await clientSeen(untrusted.port, { 'x-forwarded-for': '203.0.113.9' }), '127.0.0.1');
  const trusted = await serve(t, { trustedProxies: ['127.0.0.1'] });
  // The last entry is the one the trusted proxy added; those before it are the client's own say.
  assert.equal(await clientSeen(trusted.port, { 'x-forwarded-for': '10.9.9.9, 203.0.113.9' }), '203.0.113.9');
  assert.equal(await clientSeen(trusted.port, { 'x-forwarded-for': 'not an address' }), '127.0.0.1');
  assert.equal(await clientSeen(trusted.port, {}), '127.0.0.1');
});

test('connections past the per-client cap are refused from an untrusted peer, not from a trusted proxy (its clients share its address) nor from this host', async (t) => {
  const capped = await serve(t, { maxConnectionsPerClient: 2 });
  const held = await openSockets(capped.port, 4);
  t.after(() => held.forEach((s) => s.destroy()));
  await eventually('four connections seen', () => capped.guard.connections + capped.guard.counters.refusedConnections.perClient === 4);
  assert.equal(capped.guard.connections, 2);
  assert.equal(capped.guard.counters.refusedConnections.perClient, 2);
  const proxied = await serve(t, { maxConnectionsPerClient: 2, trustedProxies: ['127.0.0.2'], maxConnections: 3 });
  const through = await openSockets(proxied.port, 4);
  t.after(() => through.forEach((s) => s.destroy()));
  await eventually('four connections seen', () => proxied.guard.connections + proxied.guard.counters.refusedConnections.total === 4);
  // Three under the total cap, the fourth refused by it.
  assert.equal(proxied.guard.connections, 3);
  assert.deepEqual(proxied.guard.counters.refusedConnections, { total: 1, perClient: 0 });
  // 127.0.0.1 is where this host's own clients (the CLI, npm start's services) come from.
  const local = await serve(t, { maxConnectionsPerClient: 2 });
  const own = await openSockets(local.port, 4, '127.0.0.1');
  t.after(() => own.forEach((s) => s.destroy()));
  await eventually('four connections seen', () => local.guard.connections === 4);
});
