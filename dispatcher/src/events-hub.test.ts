import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { SINCE_TOO_OLD_CLOSE_CODE, SLOW_SUBSCRIBER_CLOSE_CODE, TaskEvent, TaskmeshError } from '@taskmesh/shared';
import { EVENT_BUFFER_LIMIT_BYTES, EventsHub, parseEventFilter } from './events-hub.js';
import type { TaskEntry } from './task-entry.js';
import { eventually, queuedEntry } from './test-support.js';

const entry = (id: string): TaskEntry => queuedEntry(id);

/**
 * A real WebSocket pair on 127.0.0.1: the hub's subscriber and the client that reads it. With
 * `withSocket` false the hub is not given the raw socket (it then writes to the WebSocket directly).
 */
async function subscribe(
  t: { after(fn: () => unknown): void },
  hub: EventsHub,
  {
    batch = false,
    withSocket = true,
    since,
    types = null,
  }: { batch?: boolean; withSocket?: boolean; since?: number; types?: Set<string> | null } = {},
): Promise<{ client: WebSocket; server: Socket; seen: Seen }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  let serverSocket: Socket | undefined;
  let onAdded!: () => void;
  const added = new Promise<void>((resolve) => (onAdded = resolve));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    serverSocket = socket as Socket;
    wss.handleUpgrade(req, socket, head, (ws) => {
      hub.add(ws, { types, taskIds: null, events: null, batch, since }, withSocket ? socket : undefined);
      onAdded();
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  // Listening from the start: a replay's first frames can come in the same read as the upgrade.
  const seen = collect(client);
  t.after(async () => {
    client.terminate();
    hub.closeAll();
    wss.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  await Promise.all([once(client, 'open'), added]);
  return { client, server: serverSocket!, seen };
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

interface Seen {
  seqs: number[];
  closed: { code: number; reason: string } | undefined;
}

/** The seqs a client is sent, and how it was closed: one message per event or batches of them. */
function collect(client: WebSocket): Seen {
  const seen: Seen = { seqs: [], closed: undefined };
  client.on('close', (code, reason) => (seen.closed = { code, reason: String(reason) }));
  client.on('message', (data: Buffer) => {
    const parsed: unknown = JSON.parse(data.toString('utf8'));
    for (const event of Array.isArray(parsed) ? parsed : [parsed]) seen.seqs.push(TaskEvent.parse(event).seq);
  });
  return seen;
}

/** Publishes `count` events a turn at a time (each turn its own check phase). */
async function publishTurns(hub: EventsHub, count: number, prefix: string, type?: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    hub.publish('succeeded', queuedEntry(`${prefix}-${i}`, type === undefined ? {} : { type }), 1);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

// Far more logged than the bound: the replay is hundreds of times it, and more than the kernel's
// socket buffers hold.
const LOGGED = 50_000;

for (const batch of [false, true]) {
  test(
    `a subscriber resuming with since (${batch ? 'batch' : 'one message per event'}) gets a replay larger than its backlog bound at the pace it reads, then live events, none lost`,
    { timeout: 60_000 },
    async (t) => {
      const hub = new EventsHub({ backlogBytes: 16 * 1024 });
      for (let i = 0; i < LOGGED; i++) hub.publish('submitted', entry(`old-${i}`));
      const { seen } = await subscribe(t, hub, { since: 0, batch });
      // Live events keep coming, a turn at a time, while the replay is still on its way.
      const live = 200;
      await publishTurns(hub, live, 'new');
      await eventually('every event', () => seen.seqs.length >= LOGGED + live || seen.closed !== undefined, { timeoutMs: 50_000 });
      assert.equal(seen.closed, undefined, 'not closed as slow');
      assert.equal(hub.slowClosed, 0);
      assert.deepEqual(seen.seqs, upTo(LOGGED + live), 'every event once, in order');
    },
  );
}

test('a catch-up with a narrow filter skips what does not match and goes live after the log', { timeout: 60_000 }, async (t) => {
  const hub = new EventsHub({ backlogBytes: 16 * 1024 });
  for (let i = 0; i < LOGGED; i++) hub.publish('submitted', entry(`old-${i}`));
  // One event of the wanted type near the end of the log, then live ones of it.
  await publishTurns(hub, 1, 'wanted', 'sum');
  const { seen } = await subscribe(t, hub, { since: 0, types: new Set(['sum']) });
  await publishTurns(hub, 3, 'later', 'sum');
  await eventually('the wanted events', () => seen.seqs.length >= 4);
  assert.deepEqual(seen.seqs, [LOGGED + 1, LOGGED + 2, LOGGED + 3, LOGGED + 4]);
});

test(
  'a subscriber that stops reading while it catches up, and that the log moves past, is closed with 4009 saying where the log begins',
  { timeout: 60_000 },
  async (t) => {
    const logSize = LOGGED;
    const hub = new EventsHub({ backlogBytes: 16 * 1024, logSize });
    for (let i = 0; i < LOGGED; i++) hub.publish('submitted', entry(`old-${i}`));
    const { client, seen } = await subscribe(t, hub, { since: 0 });
    const socket = (client as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // Enough new events to push the whole log past what the paused subscriber could have been sent.
    for (let i = 0; i < logSize; i++) hub.publish('submitted', entry(`new-${i}`));
    await publishTurns(hub, 1, 'last');
    assert.equal(hub.slowClosed, 1);
    assert.equal(hub.size, 0);
    socket.resume();
    await eventually('the close', () => seen.closed);
    assert.equal(seen.closed!.code, SINCE_TOO_OLD_CLOSE_CODE);
    const since = Number(/read task state, then resume with since=(\d+)$/.exec(seen.closed!.reason)?.[1]);
    // It was sent everything before the event the log let go of; that one it must read as task state.
    assert.equal(since, seen.seqs.length + 1);
    assert.ok(since < LOGGED, 'it had stalled inside the replay');
    assert.deepEqual(seen.seqs, upTo(seen.seqs.length), 'what it was sent came in order, none twice');
  },
);

test(
  'subscribers that stop reading are closed once all of them together hold TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES; one that reads is not',
  { timeout: 60_000 },
  async (t) => {
    // Each may hold far more than the total: only the total bounds them.
    const hub = new EventsHub({ backlogBytes: 256 * 1024 * 1024, totalBacklogBytes: 4 * 1024 * 1024 });
    const reader = await subscribe(t, hub);
    const stalled = await Promise.all([subscribe(t, hub), subscribe(t, hub), subscribe(t, hub)]);
    for (const { client } of stalled) (client as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = { code: 'HANDLER_FAILED', message: 'x'.repeat(4000) } as const;
    let published = 0;
    // Bounded: 20,000 events of 4 KB are 80 MB per subscriber, far past what the kernel buffers.
    while (stalled.some(({ seen }) => seen.closed === undefined) && hub.slowClosed < 3 && published < 20_000) {
      hub.publish('failed', queuedEntry(`big-${published++}`, { status: 'failed', error: big }), 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(hub.slowClosed, 3, `closed after ${published} events`);
    await eventually('every event at the reader', () => reader.seen.seqs.length === published, { timeoutMs: 30_000 });
    assert.equal(reader.seen.closed, undefined, 'the reading subscriber stays');
    assert.deepEqual(reader.seen.seqs, upTo(published));
    for (const { client } of stalled) (client as unknown as { _socket: { resume(): void } })._socket.resume();
    for (const { seen } of stalled) {
      await eventually('the close to arrive', () => seen.closed !== undefined, { timeoutMs: 10_000 });
      assert.equal(seen.closed?.code, SLOW_SUBSCRIBER_CLOSE_CODE);
      assert.match(seen.closed?.reason ?? '', /TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES/);
    }
  },
);
