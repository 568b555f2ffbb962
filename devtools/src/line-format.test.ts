import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLine, renderJsonLine } from './line-format.js';

test('plain lines are prefixed with the padded service name', () => {
  assert.equal(formatLine('ns', 'hello', { width: 6, color: false }), 'ns     | hello');
});

test('JSON log lines are rendered as level, message and a few fields', () => {
  const line = JSON.stringify({
    level: 'warn',
    message: 'lease expired',
    service: 'nameservice',
    timestamp: 't',
    worker: 'rev-1',
    ttlMs: 3000,
  });
  assert.equal(formatLine('nameservice', line, { width: 11, color: false }), 'nameservice | warn  lease expired worker=rev-1 ttlMs=3000');
  const many = JSON.stringify({ level: 'info', message: 'm', a: 1, b: 2, c: 3, d: 4, e: 5 });
  assert.equal(renderJsonLine(many, false, 2), 'info  m a=1 b=2');
});

test('colour codes only on a terminal', () => {
  assert.match(formatLine('x', 'y', { width: 1, color: true }), /\u001b\[/);
  assert.doesNotMatch(formatLine('x', JSON.stringify({ level: 'info', message: 'y' }), { width: 1, color: false }), /\u001b/);
});

test('non-object JSON and broken JSON are shown as they are', () => {
  assert.equal(renderJsonLine('{"a":', false), undefined);
  assert.equal(formatLine('x', '[1,2]', { width: 1, color: false }), 'x | [1,2]');
});
