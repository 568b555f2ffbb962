import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { MAX_DATAGRAM_BYTES } from '@taskmesh/shared';
import { TEST_SECRET, readDatagram, signedDatagram, startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';

/**
 * What a stranger on the network can make a worker process do with frames it captured or forged:
 * a frame signed for one worker is refused by every other, and a peer that never acknowledges
 * gets a bounded number of bytes, not a full retransmission schedule of a large result.
 */
let suite: LocalSuite;
let a: RunningService;
let b: RunningService;
let image: RunningService;

before(async () => {
  suite = await startLocalSuite({
    workers: ['reverse', 'reverse', 'image'],
    dispatcher: false,
    workerEnv: { TASKMESH_LOG_LEVEL: 'debug' },
  });
  [a, b] = suite.workers.filter((w) => w.name === 'worker-reverse') as [RunningService, RunningService];
  image = suite.workers.find((w) => w.name === 'worker-image')!;
});
after(() => suite?.stop());

interface Received {
  from: number;
  frame: NonNullable<ReturnType<typeof readDatagram>>;
  bytes: number;
}

/** A raw UDP socket that records every authenticated datagram it gets. */
async function rawPeer(t: { after: (fn: () => unknown) => void }) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  // Room for a whole result in flight, so what the worker sent is what is counted here.
  socket.setRecvBufferSize(4 * 1024 * 1024);
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  const received: Received[] = [];
  socket.on('message', (datagram, rinfo) => {
    const frame = readDatagram(TEST_SECRET, datagram);
    if (frame !== undefined) received.push({ from: rinfo.port, frame, bytes: datagram.length });
  });
  const send = (datagram: Buffer, port: number): Promise<void> =>
    new Promise((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  return { socket, received, send };
}

const messagesOf = (r: Received): Array<{ kind: string; taskId?: string }> =>
  r.frame.chunkCount === 1 ? (JSON.parse(r.frame.payload.toString('utf8')) as Array<{ kind: string; taskId?: string }>) : [];

test('a task frame signed for one worker is dropped by another; replayed to its own worker it is dropped as a replay', async (t) => {
  const peer = await rawPeer(t);
  const taskId = randomUUID();
  const frame = signedDatagram({
    secret: TEST_SECRET,
    receiverId: a.ready.endpointId!,
    messages: [{ kind: 'task', taskId, type: 'reverse', payload: { text: 'captured' }, attempt: 1, timeoutMs: 10_000 }],
    sender: randomBytes(8),
  });
  await peer.send(frame, b.ready.udp!);
  await b.waitForLine((l) => l.event === 'dropped' && ((l.dropped as Record<string, number> | undefined)?.misdirected ?? 0) >= 1, 5000);
  assert.equal(peer.received.filter((r) => r.from === b.ready.udp).length, 0, 'worker B answered nothing');

  // The same frame is valid for the worker it was signed for: it runs once...
  await peer.send(frame, a.ready.udp!);
  while (!peer.received.some((r) => messagesOf(r).some((m) => m.kind === 'result' && m.taskId === taskId)))
    await once(peer.socket, 'message');
  // ...and a second copy is a replay.
  await peer.send(frame, a.ready.udp!);
  await a.waitForLine((l) => l.event === 'dropped' && ((l.dropped as Record<string, number> | undefined)?.replay ?? 0) >= 1, 5000);
  assert.equal(b.proc.exitCode, null);
  assert.equal(a.proc.exitCode, null);
});

test('a peer that never acknowledges a large result gets it once and then only probes: bytes sent stay bounded', async (t) => {
  const peer = await rawPeer(t);
  const taskId = randomUUID();
  // A small task with a large answer: what a reflection attack would pick.
  await peer.send(
    signedDatagram({
      secret: TEST_SECRET,
      receiverId: image.ready.endpointId!,
      messages: [
        { kind: 'task', taskId, type: 'image', payload: { width: 2048, height: 2048, format: 'png' }, attempt: 1, timeoutMs: 10_000 },
      ],
      sender: randomBytes(8),
    }),
    image.ready.udp!,
  );
  await image.waitForLine((l) => l.message === 'results not acknowledged, giving up', 15_000);
  const fromA = peer.received.filter((r) => r.from === image.ready.udp);
  const large = new Map<number, { chunkCount: number; bytes: number; chunks: number }>();
  for (const r of fromA) {
    if (r.frame.chunkCount < 2) continue;
    const m = large.get(r.frame.messageId) ?? { chunkCount: r.frame.chunkCount, bytes: 0, chunks: 0 };
    m.bytes += r.bytes;
    m.chunks++;
    large.set(r.frame.messageId, m);
  }
  const [first, ...probes] = [...large.values()];
  assert.ok(first !== undefined && first.chunks === first.chunkCount, 'the result was sent whole once');
  assert.ok(probes.length >= 1, 'it was retransmitted');
  for (const probe of probes) assert.equal(probe.chunks, 1, 'a retransmission to a silent peer is one chunk');
  // Once whole, then a chunk (at most one datagram) per retransmission.
  const total = fromA.reduce((sum, r) => sum + r.bytes, 0);
  assert.ok(total <= first.bytes + probes.length * MAX_DATAGRAM_BYTES + 4096, `${total} bytes sent for a result of ${first.bytes}`);
  // The same worker process still renders for whoever asks next.
  assert.equal(image.proc.exitCode, null);
  const next = randomUUID();
  await peer.send(
    signedDatagram({
      secret: TEST_SECRET,
      receiverId: image.ready.endpointId!,
      messages: [{ kind: 'task', taskId: next, type: 'image', payload: { width: 32, height: 32 }, attempt: 1, timeoutMs: 10_000 }],
      counter: 2,
      sender: randomBytes(8),
    }),
    image.ready.udp!,
  );
  while (!peer.received.some((r) => messagesOf(r).some((m) => m.kind === 'result' && m.taskId === next)))
    await once(peer.socket, 'message');
});
