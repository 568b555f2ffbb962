import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fc from 'fast-check';
import { TaskmeshError } from '../errors.js';
import { PROTOCOL_VERSION, type Message } from '../protocol.js';
import { LOOPBACK_DATAGRAM_PAYLOAD, MAX_CHUNK_PAYLOAD, MAX_DATAGRAM_BYTES, MAX_MESSAGE_BYTES, MAX_NACKS } from './constants.js';
import type { Address } from './endpoint-stats.js';
import { FRAME_TYPE, FrameCodec } from './frame.js';
import { TEST_SECRET, addressOf, lossySend, openEndpoint } from './test-support.js';
import { eventually } from '../testing/eventually.js';
import { signedDatagram } from '../testing/frames.js';
import { datagramPayloadLimit } from './coalescer.js';
import type { UdpEndpoint } from './udp-endpoint.js';

/** Resolves with the next `count` messages the endpoint delivers. */
function collect(endpoint: UdpEndpoint, count: number, timeoutMs = 5000): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const got: Message[] = [];
    const timer = setTimeout(() => {
      off();
      reject(new Error(`only ${got.length} of ${count} messages arrived within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = endpoint.onMessage((m) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        off();
        resolve(got);
      }
    });
  });
}

async function pair(
  t: { after: (fn: () => Promise<void>) => void },
  a: Parameters<typeof openEndpoint>[0] = {},
  b: Parameters<typeof openEndpoint>[0] = {},
) {
  const left = await openEndpoint(a);
  const right = await openEndpoint(b);
  t.after(async () => {
    await left.close();
    await right.close();
  });
  return { left, right, toRight: addressOf(right), toLeft: addressOf(left) };
}

async function rawSocket(t: { after: (fn: () => Promise<void>) => void }): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

const sendRaw = (socket: dgram.Socket, bytes: Uint8Array, to: Address): Promise<void> =>
  new Promise((resolve, reject) => socket.send(bytes, to.port, to.host, (err) => (err ? reject(err) : resolve())));

/** An authenticated datagram with any payload, as a peer with the secret could send. */
function signed(payload: string, counter: number, to: Address, sender = randomBytes(8)): Buffer {
  return signedDatagram({ secret: TEST_SECRET, receiverId: to.id ?? '', payload, counter, sender });
}

test('messages sent in one tick to one address share a datagram and arrive in order', async (t) => {
  const { left, right, toRight } = await pair(t);
  const arriving = collect(right, 20);
  for (let i = 0; i < 20; i++) left.send({ kind: 'result-ack', taskIds: [`task-${i}`] }, toRight);
  const got = await arriving;
  assert.deepEqual(
    got.map((m) => (m.kind === 'result-ack' ? m.taskIds[0] : '')),
    Array.from({ length: 20 }, (_, i) => `task-${i}`),
  );
  assert.equal(left.stats().datagramsSent, 1);
  assert.equal(left.stats().messagesSent, 20);
  assert.equal(right.stats().datagramsReceived, 1);
  assert.equal(right.stats().messagesReceived, 20);
});

test('datagrams of coalesced messages are 1200 bytes of payload, up to 16 KiB to a loopback address', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) {
    assert.equal(datagramPayloadLimit({ host, port: 1 }), LOOPBACK_DATAGRAM_PAYLOAD, host);
  }
  for (const host of ['10.0.0.7', '172.18.0.3', '192.168.1.2', 'fe80::1', 'worker-reverse-1', '128.0.0.1']) {
    assert.equal(datagramPayloadLimit({ host, port: 1 }), MAX_CHUNK_PAYLOAD, host);
  }
  assert.equal(MAX_DATAGRAM_BYTES, 42 + LOOPBACK_DATAGRAM_PAYLOAD + 32);
});

test('a burst larger than one datagram is packed into as few full datagrams as fit', async (t) => {
  const { left, right, toRight } = await pair(t);
  const count = 3000;
  const arriving = collect(right, count);
  for (let i = 0; i < count; i++) left.send({ kind: 'cancel', taskId: `task-${String(i).padStart(4, '0')}` }, toRight);
  const got = await arriving;
  assert.equal(new Set(got.map((m) => (m.kind === 'cancel' ? m.taskId : ''))).size, count);
  const perMessage = JSON.stringify({ v: PROTOCOL_VERSION, kind: 'cancel', taskId: 'task-0000' }).length + 1;
  const minimum = Math.ceil((count * perMessage + 1) / datagramPayloadLimit(toRight));
  const sent = left.stats().datagramsSent;
  assert.ok(sent >= minimum && sent <= minimum + 1, `${sent} datagrams for ${count} messages, expected about ${minimum}`);
});

test('a full datagram leaves at once; only the last, partly filled one waits for the end of the turn', async (t) => {
  const { left, right, toRight } = await pair(t);
  const count = 2000;
  const arriving = collect(right, count);
  for (let i = 0; i < count; i++) left.send({ kind: 'cancel', taskId: `task-${String(i).padStart(4, '0')}` }, toRight);
  const perMessage = JSON.stringify({ v: PROTOCOL_VERSION, kind: 'cancel', taskId: 'task-0000' }).length + 1;
  const full = Math.floor((count * perMessage + 1) / datagramPayloadLimit(toRight));
  // Still inside the turn that queued them: every full datagram is already on its way.
  assert.equal(left.stats().datagramsSent, full);
  const got = await arriving;
  assert.deepEqual(
    got.map((m) => (m.kind === 'cancel' ? m.taskId : '')),
    Array.from({ length: count }, (_, i) => `task-${String(i).padStart(4, '0')}`),
    'in order',
  );
  assert.equal(left.stats().datagramsSent, full + 1);
});

test('a 150 KB message crosses as chunks and arrives whole', async (t) => {
  const { left, right, toRight } = await pair(t);
  const payload = { text: 'é'.repeat(75_000) }; // 2 bytes each in UTF-8
  const arriving = collect(right, 1);
  left.send({ kind: 'task', taskId: 'big', type: 'echo', payload, attempt: 1, timeoutMs: 1000 }, toRight);
  const [message] = await arriving;
  assert.equal(message?.kind, 'task');
  assert.deepEqual(message?.kind === 'task' && message.payload, payload);
  // In chunks as large as the path carries (loopback: 16 KiB), not in 1200-byte ones.
  const bytes = Buffer.byteLength(JSON.stringify(payload));
  const chunks = Math.ceil(bytes / datagramPayloadLimit(toRight));
  assert.ok(
    left.stats().datagramsSent >= chunks && left.stats().datagramsSent < bytes / MAX_CHUNK_PAYLOAD / 4,
    `${left.stats().datagramsSent} datagrams`,
  );
  assert.equal(right.stats().droppedTotal, 0);
});

test('lost chunks are NACKed and resent, including the last ones', async (t) => {
  const dropped = new Set<number>();
  let count = 0;
  const { left, right, toRight } = await pair(t, {
    // Lose every 20th chunk and the final two, each the first time only.
    wrapSend: lossySend(({ chunkIndex, chunkCount }) => {
      if (chunkCount <= 1 || dropped.has(chunkIndex)) return false;
      count = chunkCount;
      const lose = chunkIndex % 20 === 3 || chunkIndex >= chunkCount - 2;
      if (lose) dropped.add(chunkIndex);
      return lose;
    }),
  });
  const text = randomBytes(600_000).toString('base64');
  const arriving = collect(right, 1);
  left.send({ kind: 'task', taskId: 'lossy', type: 'echo', payload: { text }, attempt: 1, timeoutMs: 1000 }, toRight);
  const [message] = await arriving;
  assert.equal(message?.kind === 'task' && (message.payload as { text: string }).text, text);
  assert.ok(count > 40 && dropped.size >= 5, `${dropped.size} of ${count} chunks dropped`);
  // Every lost chunk was resent; on a loaded machine a NACK may also race a chunk in flight.
  assert.ok(left.stats().retransmitted >= dropped.size && left.stats().retransmitted < count / 2, `${left.stats().retransmitted} resent`);
  assert.equal(right.stats().dropped.reassembly, 0);
});

test('a message over the limit is refused on send with PAYLOAD_TOO_LARGE', async (t) => {
  const { left, toRight } = await pair(t);
  const payload = 'x'.repeat(MAX_MESSAGE_BYTES);
  assert.throws(
    () => left.send({ kind: 'task', taskId: 'huge', type: 'echo', payload, attempt: 1, timeoutMs: 1000 }, toRight),
    (err: unknown) =>
      err instanceof TaskmeshError && err.code === 'PAYLOAD_TOO_LARGE' && /exceeds the transport limit of 4194304 bytes/.test(err.message),
  );
  assert.equal(left.stats().messagesSent, 0);
  assert.throws(
    () => left.send({ kind: 'task', taskId: 'bigint', type: 'echo', payload: 1n, attempt: 1, timeoutMs: 1000 }, toRight),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'INVALID_PAYLOAD',
  );
});

test('a receiver with a smaller limit refuses a larger message from its chunks, before putting it together', async (t) => {
  const { left, right, toRight } = await pair(t, {}, { maxMessageBytes: 10_000 });
  left.send({ kind: 'task', taskId: 'big', type: 'echo', payload: 'y'.repeat(50_000), attempt: 1, timeoutMs: 1000 }, toRight);
  const chunks = Math.ceil(50_100 / datagramPayloadLimit(toRight));
  await eventually('chunks dropped for size', () => right.stats().dropped.size >= 1, { intervalMs: 5 });
  assert.ok(left.stats().datagramsSent >= chunks);
  await eventually('every chunk', () => right.stats().datagramsReceived >= chunks, { intervalMs: 5 });
  assert.equal(right.stats().messagesReceived, 0);
  // Nothing of it is held, and nothing is asked for again.
  assert.equal(right.stats().dropped.reassembly, 0);
  assert.equal(left.stats().retransmitted, 0);
});

test('a datagram with a bad HMAC or a wrong secret is dropped and counted as auth', async (t) => {
  const { right, toRight } = await pair(t);
  const raw = await rawSocket(t);
  const good = signed(`[{"v":${PROTOCOL_VERSION},"kind":"cancel","taskId":"x"}]`, 1, toRight);
  const tampered = Buffer.from(good);
  tampered[40] = (tampered[40] ?? 0) ^ 0xff;
  const foreign = new FrameCodec('not-the-secret').encode(
    {
      type: FRAME_TYPE.data,
      timestampMs: Date.now(),
      sender: randomBytes(8),
      receiver: Buffer.from(toRight.id ?? '', 'hex'),
      counter: 1,
      messageId: 1,
      chunkIndex: 0,
      chunkCount: 1,
    },
    Buffer.from('[]'),
  );
  await sendRaw(raw, tampered, toRight);
  await sendRaw(raw, foreign, toRight);
  await eventually('both datagrams', () => right.stats().datagramsReceived === 2, { intervalMs: 5 });
  assert.equal(right.stats().dropped.auth, 2);
  assert.equal(right.stats().messagesReceived, 0);
});

test('a captured datagram replayed is dropped as replay', async (t) => {
  const { left, right, toRight } = await pair(t);
  const relay = await rawSocket(t);
  const captured = new Promise<Buffer>((resolve) => relay.once('message', (msg) => resolve(msg)));
  // Signed for `right`, sent by way of the relay, which replays it.
  left.send({ kind: 'cancel', taskId: 'once' }, { host: '127.0.0.1', port: relay.address().port, id: right.id });
  const datagram = await captured;
  const arriving = collect(right, 1);
  await sendRaw(relay, datagram, toRight);
  await arriving;
  await sendRaw(relay, datagram, toRight);
  await eventually('the replay', () => right.stats().datagramsReceived === 2, { intervalMs: 5 });
  assert.equal(right.stats().dropped.replay, 1);
  assert.equal(right.stats().messagesReceived, 1);
});

test('authenticated datagrams with bad JSON, a wrong version or a bad schema are counted; valid siblings pass', async (t) => {
  const { right, toRight } = await pair(t);
  const raw = await rawSocket(t);
  const seen: Message[] = [];
  right.onMessage((m) => seen.push(m));
  const sender = randomBytes(8);
  await sendRaw(raw, signed('not json', 1, toRight, sender), toRight);
  await sendRaw(raw, signed('{"v":1}', 2, toRight, sender), toRight);
  const v = PROTOCOL_VERSION;
  await sendRaw(raw, signed(`[{"v":${v - 1},"kind":"cancel","taskId":"x"}]`, 3, toRight, sender), toRight);
  await sendRaw(
    raw,
    signed(`[{"v":${v},"kind":"cancel"},{"v":${v},"kind":"cancel","taskId":"ok"},{"v":${v},"kind":"nope"}]`, 4, toRight, sender),
    toRight,
  );
  await eventually('four datagrams', () => right.stats().datagramsReceived === 4, { intervalMs: 5 });
  const { dropped, droppedTotal } = right.stats();
  assert.equal(dropped.malformed, 2);
  assert.equal(dropped.version, 1);
  assert.equal(dropped.schema, 2);
  assert.equal(droppedTotal, 5);
  assert.deepEqual(seen, [{ v: PROTOCOL_VERSION, kind: 'cancel', taskId: 'ok' }]);
});

test('property: arbitrary datagrams to a live endpoint are all dropped and never crash it', async (t) => {
  const { left, right, toRight } = await pair(t);
  const raw = await rawSocket(t);
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: MAX_DATAGRAM_BYTES + 50 }), async (bytes) => {
      await sendRaw(raw, bytes, toRight);
      sent++;
    }),
    { numRuns: 200 },
  );
  await eventually(`${sent} datagrams received`, () => right.stats().datagramsReceived === sent, { intervalMs: 5 });
  assert.equal(right.stats().droppedTotal, sent);
  assert.equal(right.stats().messagesReceived, 0);
  // Still serving.
  const arriving = collect(right, 1);
  left.send({ kind: 'result-ack', taskIds: ['after'] }, toRight);
  assert.equal((await arriving)[0]?.kind, 'result-ack');
});

test('a throwing listener does not stop delivery to the others; unsubscribe works', async (t) => {
  const { left, right, toRight } = await pair(t);
  right.onMessage(() => {
    throw new Error('listener bug');
  });
  let calls = 0;
  const off = right.onMessage(() => calls++);
  const first = collect(right, 1);
  left.send({ kind: 'result-ack', taskIds: ['a'] }, toRight);
  await first;
  assert.equal(calls, 1);
  off();
  const second = collect(right, 1);
  left.send({ kind: 'result-ack', taskIds: ['b'] }, toRight);
  await second;
  assert.equal(calls, 1);
});

test('close is idempotent and sends what was queued', async (t) => {
  const { left, right, toRight } = await pair(t);
  const arriving = collect(right, 1);
  left.send({ kind: 'result-ack', taskIds: ['last'] }, toRight);
  await Promise.all([left.close(), left.close()]);
  assert.equal((await arriving)[0]?.kind, 'result-ack');
  left.send({ kind: 'result-ack', taskIds: ['ignored'] }, toRight);
  assert.equal(left.stats().messagesSent, 1);
});

test('a chunk that never arrives is NACKed a bounded number of times, then the message is dropped', async (t) => {
  let resends = 0;
  const { left, right, toRight } = await pair(t, {
    wrapSend: lossySend(({ chunkIndex, chunkCount }) => {
      if (chunkCount <= 1 || chunkIndex !== 5) return false;
      resends++;
      return true; // chunk 5 is lost every time
    }),
  });
  left.send({ kind: 'task', taskId: 'doomed', type: 'echo', payload: 'q'.repeat(120_000), attempt: 1, timeoutMs: 1000 }, toRight);
  await eventually('the reassembly to be abandoned', () => right.stats().dropped.reassembly === 1, { timeoutMs: 10_000, intervalMs: 5 });
  assert.equal(resends, 1 + MAX_NACKS, 'the first send and one resend per NACK');
  assert.equal(left.stats().retransmitted, MAX_NACKS);
  assert.equal(right.stats().messagesReceived, 0);
});
