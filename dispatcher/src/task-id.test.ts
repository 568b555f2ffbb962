import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TaskIds } from './task-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('task ids are UUIDv7 that sort in the order they were made, also within one millisecond and when the clock stands still', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6000 }), (steps) => {
      let clock = 1_764_000_000_000;
      const ids = new TaskIds(() => (clock += steps.length > 0 ? (steps.pop() ?? 0) : 0));
      const made = Array.from({ length: 6000 }, () => ids.next());
      for (const id of made) assert.match(id, UUID_V7);
      const sorted = [...made].sort();
      assert.deepEqual(sorted, made);
      assert.equal(new Set(made).size, made.length);
    }),
    { numRuns: 20 },
  );
});

test('a task id carries the millisecond it was made in', () => {
  const at = Date.UTC(2026, 11, 1, 10, 0, 0);
  const id = new TaskIds(() => at).next();
  assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
});
