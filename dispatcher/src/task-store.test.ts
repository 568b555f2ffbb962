import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskRecord } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';
import { TaskStore } from './task-store.js';
import { queuedEntry } from './test-support.js';

let seq = 0;
function entry(over: Partial<TaskRecord> = {}): TaskEntry {
  seq++;
  return queuedEntry(`t${seq}`, { payload: { text: 'x' }, createdAt: seq, ...over });
}

function finish(store: TaskStore, e: TaskEntry, at: number, status: 'succeeded' | 'failed' = 'succeeded'): void {
  e.record.status = status;
  e.record.finishedAt = at;
  store.markFinished(e);
}

test('finished tasks beyond the count bound are evicted oldest-finished first; unfinished never', () => {
  let now = 1_000_000;
  const store = new TaskStore({ retention: 3, retentionMs: 60_000, now: () => now });
  const running = entry({ status: 'running' });
  store.add(running);
  const done = Array.from({ length: 5 }, () => entry());
  for (const e of done) store.add(e);
  for (const e of done) finish(store, e, now++);
  assert.equal(store.finishedCount, 3);
  assert.equal(store.size, 4);
  assert.equal(store.get(done[0]!.record.id), undefined);
  assert.equal(store.get(done[1]!.record.id), undefined);
  assert.ok(store.get(done[4]!.record.id));
  assert.ok(store.get(running.record.id), 'unfinished task kept');
});

test('finished tasks older than the age bound are evicted, with their idempotency keys', () => {
  let now = 1_000_000;
  const store = new TaskStore({ retention: 100, retentionMs: 1000, now: () => now });
  const keyed = entry({ idempotencyKey: 'k1' });
  store.add(keyed);
  assert.equal(store.byIdempotencyKey('k1'), keyed);
  finish(store, keyed, now);
  now += 999;
  assert.equal(store.evict(), 0);
  now += 2;
  assert.equal(store.evict(), 1);
  assert.equal(store.get(keyed.record.id), undefined);
  assert.equal(store.byIdempotencyKey('k1'), undefined);
});

test('a retried task is unfinished again and not evicted', () => {
  let now = 1_000_000;
  const store = new TaskStore({ retention: 0, retentionMs: 1000, now: () => now });
  const e = entry();
  store.add(e);
  e.record.status = 'failed';
  e.record.finishedAt = now;
  store.markUnfinished(e);
  e.record.status = 'queued';
  now += 5000;
  store.evict();
  assert.equal(store.get(e.record.id), e);
  finish(store, e, now, 'failed');
  assert.equal(store.get(e.record.id), undefined, 'retention 0 evicts as soon as it finishes');
});

test('list filters by status and type, newest first, up to the limit', () => {
  const store = new TaskStore({ retention: 100, retentionMs: 60_000 });
  const a = entry({ type: 'hash' });
  const b = entry({ type: 'reverse' });
  const c = entry({ type: 'hash' });
  for (const e of [a, b, c]) store.add(e);
  finish(store, a, Date.now(), 'failed');
  finish(store, c, Date.now(), 'failed');
  assert.deepEqual(
    store.list({ limit: 10 }).map((e) => e.record.id),
    [c.record.id, b.record.id, a.record.id],
  );
  assert.deepEqual(
    store.list({ status: 'failed', limit: 10 }).map((e) => e.record.id),
    [c.record.id, a.record.id],
  );
  assert.deepEqual(
    store.list({ status: 'failed', type: 'hash', limit: 1 }).map((e) => e.record.id),
    [c.record.id],
  );
  assert.deepEqual(
    store.list({ type: 'reverse', limit: 10 }).map((e) => e.record.id),
    [b.record.id],
  );
});
