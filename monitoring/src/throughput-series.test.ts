import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DispatcherStats, ThroughputSeries } from './throughput-series.js';

const stats = (at: number, types: Record<string, number>, perSecond: number[] = [0, 0, 0, 0, 0]): DispatcherStats =>
  DispatcherStats.parse({
    at,
    types: Object.fromEntries(Object.entries(types).map(([t, n]) => [t, { queued: 0, running: 0, succeeded: n, failed: 0, cancelled: 0 }])),
    throughput: { bucketMs: 1000, perSecond },
    latencyMs: { p50: null, p99: null },
  });

test('per-type rates come from the growth of the running totals between polls', () => {
  const series = new ThroughputSeries(5);
  const first = series.add(stats(10_000, { reverse: 7 }));
  // History before monitoring watched is unknown, not zero.
  assert.deepEqual(first.types.reverse, [null, null, null, null, 0]);
  assert.equal(first.end, 10);
  series.add(stats(11_000, { reverse: 10 }));
  // Two seconds between polls: the growth is spread over both.
  const third = series.add(stats(13_000, { reverse: 14, image: 2 }));
  assert.equal(third.end, 13);
  assert.deepEqual(third.types.reverse, [null, 0, 3, 2, 2]);
  assert.deepEqual(third.types.image, [null, 0, 0, 1, 1]);
});

test('a dispatcher restart (totals drop) does not produce negative rates', () => {
  const series = new ThroughputSeries(3);
  series.add(stats(1000, { sum: 50 }));
  const after = series.add(stats(2000, { sum: 2 }));
  assert.deepEqual(after.types.sum, [null, 0, 0]);
  const next = series.add(stats(3000, { sum: 5 }));
  assert.deepEqual(next.types.sum, [0, 0, 3]);
});

test("the total is the dispatcher's own series, cut to the window", () => {
  const series = new ThroughputSeries(3);
  const view = series.add(stats(5000, {}, [1, 2, 3, 4, 5]));
  assert.deepEqual(view.total, [3, 4, 5]);
});

test('stats that do not match are rejected at the edge', () => {
  assert.equal(DispatcherStats.safeParse({ at: 'now' }).success, false);
});
