import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay, delay } from './backoff.js';

const policy = { initialDelayMs: 100, maxDelayMs: 2000, factor: 2, jitter: 0.2 };

test('backoff grows exponentially and stays within the jitter band and the cap', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (retry, r) => {
      const d = backoffDelay(policy, retry, () => r);
      const base = Math.min(2000, 100 * 2 ** retry);
      assert.ok(d >= Math.floor(base * 0.8) && d <= Math.ceil(base * 1.2), `${d} outside band of ${base}`);
    }),
  );
  assert.equal(
    backoffDelay(policy, 0, () => 0.5),
    100,
  );
  assert.equal(
    backoffDelay(policy, 3, () => 0.5),
    800,
  );
  assert.equal(
    backoffDelay(policy, 10, () => 0.5),
    2000,
  );
});

test('delay rejects with the abort reason', async () => {
  const ac = new AbortController();
  const p = delay(10_000, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(p, /stop/);
});
