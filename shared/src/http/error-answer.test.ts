import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskmeshError } from '../errors.js';
import { errorAnswer } from './error-answer.js';

test('one answer for every service: body-parser errors, 4xx statuses, QUEUE_FULL, and nothing internal leaked', () => {
  const parse = errorAnswer(Object.assign(new SyntaxError('Unexpected token'), { type: 'entity.parse.failed', status: 400 }));
  assert.deepEqual([parse.error.code, parse.error.message], ['INVALID_REQUEST', 'malformed JSON body: Unexpected token']);
  const big = errorAnswer(Object.assign(new Error('too large'), { type: 'entity.too.large', status: 413 }), {
    bodyLimit: { bytes: 1024, variable: 'TASKMESH_MAX_BODY_BYTES' },
  });
  assert.deepEqual(
    [big.error.code, big.error.message],
    ['PAYLOAD_TOO_LARGE', 'request body larger than 1024 bytes (TASKMESH_MAX_BODY_BYTES)'],
  );
  const uri = errorAnswer(Object.assign(new URIError('Failed to decode param'), { status: 400 }));
  assert.equal(uri.error.code, 'INVALID_REQUEST');
  const full = errorAnswer(new TaskmeshError('QUEUE_FULL', 'full'));
  assert.deepEqual(full.headers, { 'Retry-After': '1' });
  const bug = errorAnswer(new TypeError('cannot read properties of undefined (reading secret)'));
  assert.deepEqual([bug.error.code, bug.error.status, bug.error.message], ['INTERNAL', 500, 'internal error']);
});
