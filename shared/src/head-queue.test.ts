import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HeadQueue } from './head-queue.js';

type Op = { op: 'push' | 'unshift'; value: number } | { op: 'shift' } | { op: 'retainEven' };

test('property: a HeadQueue behaves as a plain array used as a queue, through compactions', () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.integer().map((value) => ({ op: 'push' as const, value })) },
    { weight: 1, arbitrary: fc.integer().map((value) => ({ op: 'unshift' as const, value })) },
    { weight: 4, arbitrary: fc.constant({ op: 'shift' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'retainEven' as const }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 5000 }), (ops) => {
      const queue = new HeadQueue<number>();
      const model: number[] = [];
      for (const o of ops) {
        if (o.op === 'push') {
          queue.push(o.value);
          model.push(o.value);
        } else if (o.op === 'unshift') {
          queue.unshift(o.value);
          model.unshift(o.value);
        } else if (o.op === 'shift') assert.equal(queue.shift(), model.shift());
        else {
          queue.retain((v) => v % 2 === 0);
          model.splice(0, model.length, ...model.filter((v) => v % 2 === 0));
        }
        assert.equal(queue.length, model.length);
        assert.equal(queue.peek(), model[0]);
      }
    }),
    { numRuns: 50 },
  );
});

test('many shifts compact the array rather than growing it', () => {
  const queue = new HeadQueue<number>();
  for (let i = 0; i < 100_000; i++) {
    queue.push(i);
    if (i % 2 === 1) assert.equal(queue.shift(), (i - 1) / 2);
  }
  assert.equal(queue.length, 50_000);
  assert.equal(queue.peek(), 50_000);
});
