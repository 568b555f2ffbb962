import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskmeshError, toTaskmeshError } from './errors.js';

test('TaskmeshError crosses the wire as {code, message} and comes back', () => {
  const err = new TaskmeshError('WORKER_BUSY', 'worker w1 is full');
  assert.deepEqual(JSON.parse(JSON.stringify(err)), { code: 'WORKER_BUSY', message: 'worker w1 is full' });
  assert.equal(err.status, 503);
  assert.equal(err.retryable, true);
  const back = TaskmeshError.fromBody({ code: 'WORKER_BUSY', message: 'worker w1 is full' });
  assert.equal(back.code, 'WORKER_BUSY');
  assert.equal(TaskmeshError.fromBody({ code: 'NO_SUCH_CODE', message: 'x' }).code, 'INTERNAL');
});

test('toTaskmeshError keeps the original as cause', () => {
  const original = new RangeError('boom');
  const err = toTaskmeshError(original, 'HANDLER_FAILED');
  assert.equal(err.code, 'HANDLER_FAILED');
  assert.equal(err.cause, original);
  assert.equal(toTaskmeshError('text').code, 'INTERNAL');
});
