import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { TaskEvent, TaskmeshError } from '@taskmesh/shared';
import { EVENT_BUFFER_LIMIT_BYTES, EventsHub, SLOW_SUBSCRIBER_CLOSE_CODE, parseEventFilter } from './events-hub.js';
import type { TaskEntry } from './task-entry.js';
import { queuedEntry } from './test-support.js';

const entry = (id: string): TaskEntry => queuedEntry(id);

/**
 * A real WebSocket pair on 127.0.0.1: the hub's subscriber and the client that reads it. With
 * `withSocket` false the hub is not given the raw socket (it then writes to the WebSocket directly).
 */
async function subscribe(
  t: { after(fn: () => unknown): void },
  hub: EventsHub,
  { batch = false, withSocket = true }: { batch?: boolean; withSocket?: boolean } = {},
): Promise<{ client: WebSocket; server: Socket }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  let serverSocket: Socket | undefined;
  let onAdded!: () => void;
  const added = new Promise<void>((resolve) => (onAdded = resolve));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    serverSocket = socket as Socket;
    wss.handleUpgrade(req, socket, head, (ws) => {
      hub.add(ws, { types: null, taskIds: null, events: null, batch }, withSocket ? socket : undefined);
      onAdded();
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  t.after(async () => {
    client.terminate();
    hub.closeAll();
    wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  await Promise.all([once(client, 'open'), added]);
  return { client, server: serverSocket! };
}

test('events of one turn leave in one write, each still its own message, in order', async (t) => {
  const hub = new EventsHub();
  const { client, server } = await subscribe(t, hub);
  const received: TaskEvent[] = [];
  client.on('message', (data: Buffer) => received.push(TaskEvent.parse(JSON.parse(data.toString('utf8')))));
  // Count what the stream hands the socket handle: one call per write syscall.
  let writes = 0;
  const internals = server as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internals[method].bind(server);
    internals[method] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  }

  const ids = Array.from({ length: 50 }, (_, i) => `task-${i}`);
  for (const id of ids) hub.publish('submitted', entry(id));
  assert.equal(server.writableCorked, 1, 'corked for the rest of the turn');
  assert.equal(writes, 0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(server.writableCorked, 0);
  assert.equal(writes, 1, 'one write for the whole turn');

  while (received.length < ids.length) await once(client, 'message');
  assert.deepEqual(
    received.map((e) => e.taskId),
    ids,
  );
  assert.equal(hub.sent, ids.length);

  // The next turn corks again.
  hub.publish('succeeded', entry('late'), 1.5);
  assert.equal(server.writableCorked, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(server.writableCorked, 0);
  const [late] = (await once(client, 'message')) as [Buffer];
  assert.equal(TaskEvent.parse(JSON.parse(late.toString('utf8'))).latencyMs, 1.5);
});

test("a batch subscriber gets each turn's events as one message, a JSON array in order", async (t) => {
  const hub = new EventsHub();
  const { client } = await subscribe(t, hub, { batch: true });
  const messages: unknown[] = [];
  client.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8'))));

  const ids = Array.from({ length: 50 }, (_, i) => `task-${i}`);
  for (const id of ids) hub.publish('succeeded', entry(id), 2);
  await new Promise((resolve) => setImmediate(resolve));
  hub.publish('failed', entry('next-turn'));
  while (messages.length < 2) await once(client, 'message');

  const [first, second] = messages as [unknown[], unknown[]];
  assert.ok(Array.isArray(first) && Array.isArray(second));
  assert.deepEqual(
    first.map((e) => TaskEvent.parse(e).taskId),
    ids,
  );
  assert.deepEqual(
    second.map((e) => TaskEvent.parse(e).event),
    ['failed'],
  );
  assert.equal(hub.sent, ids.length + 1);
});

test('parseEventFilter reads batch=0|1 and refuses anything else', () => {
  assert.equal(parseEventFilter(new URLSearchParams('batch=1')).batch, true);
  assert.equal(parseEventFilter(new URLSearchParams('batch=0')).batch, false);
  assert.equal(parseEventFilter(new URLSearchParams('event=failed')).batch, false);
  assert.throws(
    () => parseEventFilter(new URLSearchParams('batch=yes')),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'INVALID_REQUEST',
  );
});

test('a subscriber without its socket is written to directly', async (t) => {
  const hub = new EventsHub();
  const { client } = await subscribe(t, hub, { withSocket: false });
  hub.publish('submitted', entry('a'));
  const [data] = (await once(client, 'message')) as [Buffer];
  assert.equal(TaskEvent.parse(JSON.parse(data.toString('utf8'))).taskId, 'a');
});

test("a turn's own events never count against the buffer limit", async (t) => {
  const hub = new EventsHub();
  const { client } = await subscribe(t, hub);
  let received = 0;
  client.on('message', () => received++);
  const count = Math.ceil((2 * EVENT_BUFFER_LIMIT_BYTES) / 200);
  for (let i = 0; i < count; i++) hub.publish('submitted', entry(`task-${i}`));
  assert.equal(hub.slowClosed, 0);
  while (received < count) await once(client, 'message');
  assert.equal(hub.sent, count);
});

test('a subscriber over the backlog bound when a turn begins is closed with the documented code, never skipped in silence', async () => {
  const hub = new EventsHub();
  const sent: string[] = [];
  const closed: Array<[number, string]> = [];
  const ws = {
    readyState: 1,
    OPEN: 1,
    bufferedAmount: EVENT_BUFFER_LIMIT_BYTES + 1,
    send: (text: string) => sent.push(text),
    on: () => undefined,
    close: (code: number, reason: string) => closed.push([code, reason]),
    terminate: () => undefined,
  };
  let corks = 0;
  hub.add(ws as unknown as WebSocket, { types: null, taskIds: null, events: null }, { cork: () => corks++, uncork: () => corks-- });
  hub.publish('submitted', entry('a'));
  assert.deepEqual(sent, []);
  assert.equal(closed.length, 1);
  assert.equal(closed[0]![0], SLOW_SUBSCRIBER_CLOSE_CODE);
  assert.match(closed[0]![1], /TASKMESH_EVENTS_BACKLOG_BYTES/);
  assert.match(closed[0]![1], /resume with since=\d+/);
  assert.equal(hub.size, 0);
  assert.equal(hub.slowClosed, 1);
  hub.publish('submitted', entry('b'));
  assert.deepEqual(sent, []);
  assert.equal(closed.length, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(corks, 0);
});
