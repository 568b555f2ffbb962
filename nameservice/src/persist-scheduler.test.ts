import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, EventEmitter } from 'node:events';
import { silentLogger } from '@taskmesh/shared';
import { PersistScheduler } from './persist-scheduler.js';

/** A write function that records when it ran and signals each completion. */
function recorder(fail: () => boolean = () => false) {
  const done = new EventEmitter();
  const times: number[] = [];
  let active = 0;
  let overlapped = false;
  const write = async (): Promise<void> => {
    active += 1;
    if (active > 1) overlapped = true;
    await new Promise((resolve) => setImmediate(resolve));
    active -= 1;
    times.push(Date.now());
    done.emit('write');
    if (fail()) throw new Error('disk full');
  };
  return { write, times, done, overlapped: () => overlapped };
}

test('a stream of lazy changes becomes at most one write per interval', async (t) => {
  const rec = recorder();
  const scheduler = new PersistScheduler({ write: rec.write, logger: silentLogger(), intervalMs: 100, urgentDelayMs: 5 });
  t.after(() => scheduler.close());
  const start = Date.now();
  const stop = start + 550;
  // about 275 heartbeats in 550 ms
  while (Date.now() < stop) {
    scheduler.markDirty(false);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await scheduler.flush();
  assert.ok(rec.times.length >= 3 && rec.times.length <= 8, `expected a handful of writes, got ${rec.times.length}`);
  for (let i = 1; i < rec.times.length - 1; i += 1) {
    assert.ok(rec.times[i]! - rec.times[i - 1]! >= 90, `writes ${rec.times[i]! - rec.times[i - 1]!} ms apart`);
  }
  assert.equal(rec.overlapped(), false);
});

test('an urgent change is written promptly even right after a write', async (t) => {
  const rec = recorder();
  const scheduler = new PersistScheduler({ write: rec.write, logger: silentLogger(), intervalMs: 10_000, urgentDelayMs: 5 });
  t.after(() => scheduler.close());
  scheduler.markDirty(true);
  await once(rec.done, 'write');
  const before = Date.now();
  scheduler.markDirty(false); // would wait 10 s on its own
  scheduler.markDirty(true);
  await once(rec.done, 'write');
  assert.ok(Date.now() - before < 1000);
  assert.equal(rec.times.length, 2);
});

test('close writes what is pending, once, and later changes are not scheduled', async () => {
  const rec = recorder();
  const scheduler = new PersistScheduler({ write: rec.write, logger: silentLogger(), intervalMs: 10_000 });
  scheduler.markDirty(false);
  scheduler.markDirty(false);
  await scheduler.close();
  assert.equal(rec.times.length, 1);
  await scheduler.close();
  assert.equal(rec.times.length, 1);
});

test('a failed write is retried and never thrown at the caller', async (t) => {
  let failures = 2;
  const rec = recorder(() => failures-- > 0);
  const scheduler = new PersistScheduler({ write: rec.write, logger: silentLogger(), urgentDelayMs: 1, retryMs: 20 });
  t.after(() => scheduler.close());
  scheduler.markDirty(true);
  for (let i = 0; i < 3; i += 1) await once(rec.done, 'write');
  assert.equal(rec.times.length, 3);
  assert.ok(rec.times[2]! - rec.times[0]! >= 35, 'retries wait retryMs');
  await scheduler.flush();
  assert.equal(scheduler.writes, 1);
});
