import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskmeshError } from '@taskmesh/shared';
import { DispatcherError, transportError } from './api-client.js';
import { CliError, EXIT, errorLine, exitCodeOf } from './exit-codes.js';

test('each failure class has its own exit code', () => {
  assert.equal(exitCodeOf(new CliError(EXIT.USAGE, 'bad')), 2);
  assert.equal(exitCodeOf(new CliError(EXIT.TASK_FAILED, 'failed: X y')), 1);
  assert.equal(exitCodeOf(new DispatcherError(404, 'NOT_FOUND', 'no task t-1')), 4);
  assert.equal(exitCodeOf(new DispatcherError(418, 'TEAPOT', 'short and stout')), 4);
  assert.equal(exitCodeOf(new DispatcherError(503, 'NO_WORKER', 'no reverse worker')), 3);
  assert.equal(exitCodeOf(new TaskmeshError('UNAVAILABLE', 'cannot reach')), 3);
  assert.equal(exitCodeOf(new Error('anything')), 3);
});

test('error lines carry the server code and message on one line', () => {
  assert.equal(errorLine(new DispatcherError(404, 'NOT_FOUND', 'no task t-1')), 'NOT_FOUND: no task t-1');
  const refused = transportError('http://127.0.0.1:9', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  assert.equal(errorLine(refused), 'cannot reach the dispatcher at http://127.0.0.1:9: connection refused');
  assert.equal(new DispatcherError(418, 'TEAPOT', 'x').serverCode, 'TEAPOT');
});
