import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunk, mapConcurrent, parseBatchFile } from './batch-file.js';

test('a batch file gives one task per line, skipping blanks and comments', () => {
  const parsed = parseBatchFile(
    '{"type":"reverse","payload":{"text":"a"}}\n\n# a comment\r\n{"type":"sum","payload":{"numbers":[1]},"maxAttempts":2}\n',
  );
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.lines, [1, 4]);
  assert.deepEqual(parsed.tasks, [
    { type: 'reverse', payload: { text: 'a' } },
    { type: 'sum', payload: { numbers: [1] }, maxAttempts: 2 },
  ]);
});

test('bad lines are named by line number with the reason', () => {
  const parsed = parseBatchFile(
    [
      '{"type":"reverse","payload":{}}',
      '{not json',
      '{"type":"Bad Type"}',
      '{"type":"upper","extra":1}',
      '{"type":"wait","timeoutMs":-5}',
    ].join('\n'),
  );
  assert.equal(parsed.tasks.length, 1);
  assert.deepEqual(
    parsed.errors.map((e) => e.line),
    [2, 3, 4, 5],
  );
  assert.match(parsed.errors[0]!.message, /not valid JSON/);
  assert.match(parsed.errors[1]!.message, /^type: /);
  assert.match(parsed.errors[2]!.message, /extra/);
  assert.match(parsed.errors[3]!.message, /^timeoutMs: /);
});

test('chunk splits into pieces of at most n', () => {
  assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(chunk([], 3), []);
  assert.throws(() => chunk([1], 0), RangeError);
});

test('mapConcurrent keeps order and never exceeds its concurrency', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapConcurrent([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    return n * 10 + i;
  });
  assert.deepEqual(out, [50, 11, 42, 23, 34, 5]);
  assert.equal(peak, 2);
});
