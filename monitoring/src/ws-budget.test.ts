import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { eventually } from '@taskmesh/shared/testing';
import { Hub } from './hub.js';
import { WsBudget } from './ws-budget.js';

/** Real WebSockets on 127.0.0.1: the hub's clients, as browsers would hold them. */
test("dashboards that stop reading are closed once monitoring's WebSockets hold TASKMESH_MONITORING_BUFFER_BYTES in all; one that reads is not", async (t) => {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  const budget = new WsBudget(() => wss.clients, 256 * 1024 * 1024, 2 * 1024 * 1024);
  const hub = new Hub(budget);
  wss.on('connection', (ws) => hub.addClient(ws));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const ws = new WebSocket(url);
      let received = 0;
      let closed = false;
      ws.on('message', () => received++);
      ws.on('close', () => (closed = true));
      await once(ws, 'open');
      return { ws, received: () => received, closed: () => closed };
    }),
  );
  t.after(() => {
    for (const c of clients) c.ws.terminate();
    hub.close();
    wss.close();
    http.closeAllConnections();
    http.close();
  });
  await eventually('three clients at the hub', () => hub.clientCount === 3);
  const [reader, ...stalled] = clients;
  for (const c of stalled) (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  let pushed = 0;
  // Bounded: 5,000 events of 16 KB are 80 MB per client, far past what the kernel buffers.
  while (budget.closedSlow < 2 && pushed < 5000) {
    hub.pushFeed('task-event', { n: pushed++, text: 'x'.repeat(16_000) });
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(budget.closedSlow, 2, `after ${pushed} events`);
  assert.ok(budget.buffered <= 2 * 1024 * 1024 + 64 * 1024, `${budget.buffered} bytes unsent`);
  await eventually('every event at the reader', () => reader!.received() === pushed, { timeoutMs: 30_000 });
  assert.equal(reader!.closed(), false);
});
