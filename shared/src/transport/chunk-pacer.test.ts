import assert from 'node:assert/strict';
import { test } from 'node:test';
import { once, EventEmitter } from 'node:events';
import { ChunkPacer, type ChunkJob } from './chunk-pacer.js';

const CHUNK = 16 * 1024;
const peerA = { host: '127.0.0.1', port: 7001 };
const peerB = { host: '127.0.0.1', port: 7002 };

function job(messageId: number, bytes: number, to = peerA): ChunkJob {
  const chunkCount = Math.ceil(bytes / CHUNK);
  return {
    to,
    receiver: Buffer.alloc(8),
    messageId,
    payload: Buffer.alloc(bytes),
    chunkCount,
    chunkSize: CHUNK,
    indices: Array.from({ length: chunkCount }, (_, i) => i),
    next: 0,
  };
}

/** A pacer whose sends are recorded, with an event per pump that sent something. */
function recorded(options: ConstructorParameters<typeof ChunkPacer>[1]) {
  const sent: Array<{ messageId: number; index: number; port: number }> = [];
  const pumps = new EventEmitter();
  let scheduled = false;
  const pacer = new ChunkPacer((j, index) => {
    sent.push({ messageId: j.messageId, index, port: j.to.port });
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        pumps.emit('pumped');
      });
    }
  }, options);
  /** Waits until no pump sends anything more. */
  const settle = async (): Promise<void> => {
    for (;;) {
      const before = sent.length;
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      if (sent.length === before) return;
    }
  };
  return { pacer, sent, pumps, settle };
}

const messagesSent = (sent: Array<{ messageId: number }>): number[] => [...new Set(sent.map((s) => s.messageId))];

test('large messages to one peer wait for its window; a confirmation lets the next one go', async (t) => {
  const { pacer, sent, settle } = recorded({ windowBytes: 1024 * 1024, completionWaitMs: 60_000 });
  t.after(() => pacer.stop());
  for (let id = 1; id <= 5; id++) pacer.queue(job(id, 600 * 1024));
  await settle();
  // The first fills most of the window: the second would pass it, so it waits, and so do the rest.
  assert.deepEqual(messagesSent(sent), [1]);
  assert.equal(sent.length, Math.ceil((600 * 1024) / CHUNK));
  assert.equal(pacer.busyWith(peerA), true);
  pacer.completed(1);
  await settle();
  assert.deepEqual(messagesSent(sent), [1, 2]);
  pacer.completed(2);
  pacer.completed(3); // not sent yet: nothing to free, nothing skipped
  await settle();
  assert.deepEqual(messagesSent(sent), [1, 2, 3]);
});

test('one peer at its window does not hold back another', async (t) => {
  const { pacer, sent, settle } = recorded({ windowBytes: 1024 * 1024, completionWaitMs: 60_000 });
  t.after(() => pacer.stop());
  pacer.queue(job(1, 900 * 1024, peerA));
  pacer.queue(job(2, 900 * 1024, peerA));
  pacer.queue(job(3, 900 * 1024, peerB));
  await settle();
  assert.deepEqual(messagesSent(sent), [1, 3]);
  assert.equal(pacer.busyWith(peerB), true);
});

test('a peer that never confirms gets the next message once the wait has passed', async (t) => {
  const { pacer, sent, pumps, settle } = recorded({ windowBytes: 64 * 1024, completionWaitMs: 30 });
  t.after(() => pacer.stop());
  pacer.queue(job(1, 60 * 1024));
  pacer.queue(job(2, 60 * 1024));
  await settle();
  assert.deepEqual(messagesSent(sent), [1]);
  // (The pacer's timer does not keep a process alive: this test does, until the pump it awaits.)
  const alive = setTimeout(() => undefined, 5000);
  await once(pumps, 'pumped');
  clearTimeout(alive);
  assert.deepEqual(messagesSent(sent), [1, 2]);
});

test('a repair (chunks a NACK asked for) goes past a full window, and a turn sends at most the burst', async (t) => {
  const { pacer, sent, settle } = recorded({ windowBytes: 64 * 1024, completionWaitMs: 60_000 });
  t.after(() => pacer.stop());
  pacer.queue(job(1, 64 * 1024));
  await settle();
  pacer.queue({ ...job(1, 64 * 1024), indices: [2], repair: true });
  pacer.queue(job(2, 4 * 1024 * 1024, peerB));
  await new Promise((resolve) => setImmediate(resolve));
  // The repair left in the first turn, beside the first burst (256 KiB) of the other peer's message.
  assert.ok(sent.some((s) => s.messageId === 1 && s.index === 2 && sent.indexOf(s) >= 4));
  assert.equal(sent.filter((s) => s.messageId === 2).length, (256 * 1024) / CHUNK - 1);
});
