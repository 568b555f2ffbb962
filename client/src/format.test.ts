import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskEvent, TaskRecord, WorkerRecord } from '@taskmesh/shared';
import {
  formatAge,
  formatBatchSummary,
  formatDuration,
  formatEvent,
  formatFailure,
  formatResult,
  formatTaskRecord,
  formatTaskTable,
  formatWorkersTable,
  loadBar,
} from './format.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

const record = (over: Partial<TaskRecord> = {}): TaskRecord => ({
  id: 't-1',
  type: 'reverse',
  status: 'succeeded',
  payload: { text: 'hello' },
  result: { text: 'olleh' },
  error: null,
  attempts: 1,
  maxAttempts: 3,
  timeoutMs: 30_000,
  worker: 'reverse-a',
  progress: null,
  idempotencyKey: null,
  createdAt: NOW - 2000,
  startedAt: NOW - 1990,
  finishedAt: NOW - 1988,
  ...over,
});

const worker = (over: Partial<WorkerRecord> = {}): WorkerRecord => ({
  name: 'reverse-a',
  type: 'reverse',
  host: '127.0.0.1',
  port: 40001,
  pid: 10,
  load: { queued: 2, inFlight: 3, capacity: 10 },
  loadRatio: 0.5,
  state: 'live',
  registeredAt: NOW - 60_000,
  lastHeartbeatAt: NOW - 400,
  ...over,
});

test('results print readably by their main field', () => {
  assert.equal(formatResult('olleh'), 'olleh');
  assert.equal(formatResult({ text: 'olleh' }), 'olleh');
  assert.equal(formatResult({ hash: 'abc123', algorithm: 'sha1' }), 'abc123');
  assert.equal(formatResult({ sum: '12345678901234567891', exact: true }), '12345678901234567891');
  assert.equal(formatResult({ sum: 0.30000000000000004, exact: false }), '0.30000000000000004');
  assert.equal(formatResult(42), '42');
  assert.equal(formatResult(null), '(no result)');
  assert.equal(formatResult({ waited: 5, ok: true }), '{"waited":5,"ok":true}');
  assert.equal(formatResult({ requestedMs: 500, waitedMs: 501.4 }), 'waited 501 ms');
  assert.equal(formatResult({ algorithm: 'sha1', encoding: 'hex', digest: 'aaf4' }), 'aaf4');
  assert.equal(formatResult({ format: 'png', width: 32, height: 16, bytes: 345, data: 'AAAA' }), 'png image 32x16, 345 bytes');
});

test('failures print as status, code and message', () => {
  assert.equal(
    formatFailure({ status: 'failed', error: { code: 'TIMEOUT', message: 'took longer than 100 ms' } }),
    'failed: TIMEOUT took longer than 100 ms',
  );
  assert.equal(formatFailure({ status: 'cancelled', error: null }), 'cancelled:');
});

test('durations and ages pick a readable unit', () => {
  assert.equal(formatDuration(0.25), '250 µs');
  assert.equal(formatDuration(1.234), '1.23 ms');
  assert.equal(formatDuration(42.37), '42.4 ms');
  assert.equal(formatDuration(420), '420 ms');
  assert.equal(formatDuration(4200), '4.2 s');
  assert.equal(formatDuration(185_000), '3m 05s');
  assert.equal(formatDuration(NaN), '-');
  assert.equal(formatAge(NOW - 400, NOW), '0.4s');
  assert.equal(formatAge(NOW - 45_000, NOW), '45s');
  assert.equal(formatAge(NOW - 600_000, NOW), '10m');
  assert.equal(formatAge(NOW + 5, NOW), '0.0s');
});

test('load bars fill in proportion and clamp past full', () => {
  assert.equal(loadBar(0), '░░░░░░░░░░   0%');
  assert.equal(loadBar(0.5), '█████░░░░░  50%');
  assert.equal(loadBar(1.5), '██████████ 150%');
  assert.equal(loadBar(0.25, 4), '█░░░  25%');
});

test('the workers table lists each worker with address, state, load and heartbeat age', () => {
  const text = formatWorkersTable(
    [
      worker(),
      worker({ name: 'hash-b', type: 'hash', port: 40002, state: 'suspect', loadRatio: 0, load: { queued: 0, inFlight: 0, capacity: 4 } }),
    ],
    NOW,
  );
  const lines = text.split('\n');
  assert.match(
    lines.find((l) => l.includes('name'))!,
    /name.*type.*address.*state.*load.*queued.*in flight.*heartbeat/,
  );
  const hash = lines.findIndex((l) => l.includes('hash-b'));
  const reverse = lines.findIndex((l) => l.includes('reverse-a'));
  assert.ok(hash > 0 && reverse > hash, 'sorted by type');
  assert.match(lines[reverse]!, /127\.0\.0\.1:40001.*live.*█████░░░░░ +50%.*2.*3\/10.*0\.4s ago/);
  assert.match(lines[hash]!, /suspect/);
  assert.equal(formatWorkersTable([], NOW), 'no workers registered');
  const gone = formatWorkersTable(
    [worker({ state: 'expired', downReason: 'worker-reverse (pid 7) was killed by SIGKILL, seen by the runner' })],
    NOW,
  );
  assert.equal(gone.split('\n').at(-1), 'reverse-a expired: worker-reverse (pid 7) was killed by SIGKILL, seen by the runner');
});

test('task records print as a table and as key: value lines', () => {
  const failed = record({ id: 't-2', status: 'failed', result: null, error: { code: 'HANDLER_FAILED', message: 'boom' }, attempts: 3 });
  const table = formatTaskTable([record(), failed], NOW);
  assert.match(table, /t-1.*reverse.*succeeded.*1\/3.*reverse-a.*2\.0s.*12 ms/);
  assert.match(table, /t-2.*failed.*3\/3.*HANDLER_FAILED boom/);
  assert.equal(formatTaskTable([], NOW), 'no tasks');
  const detail = formatTaskRecord(record({ idempotencyKey: 'k1' }), NOW);
  assert.match(detail, /^id: +t-1$/m);
  assert.match(detail, /^status: +succeeded$/m);
  assert.match(detail, /^result: +olleh$/m);
  assert.match(detail, /^idempotency key: k1$/m);
  const running = formatTaskRecord(record({ status: 'running', progress: 0.42, finishedAt: null, result: null }), NOW);
  assert.match(running, /^status: +running \(42%\)$/m);
  assert.match(running, /^took: +2\.0 s…$/m);
  assert.match(formatTaskRecord(failed, NOW), /^error: +HANDLER_FAILED boom$/m);
});

test('events print one line each with the time, kind, type and id', () => {
  const event: TaskEvent = {
    seq: 1,
    event: 'succeeded',
    taskId: 't-9',
    type: 'upper',
    status: 'succeeded',
    at: NOW,
    attempt: 1,
    worker: 'upper-a',
    progress: null,
    error: null,
    latencyMs: 1.5,
  };
  assert.equal(formatEvent(event), '03:04:05.678 succeeded  upper    t-9 attempt=1 worker=upper-a 1.5 ms');
  const failed = formatEvent({ ...event, event: 'failed', status: 'failed', error: { code: 'TIMEOUT', message: 'late' }, latencyMs: null });
  assert.ok(failed.endsWith('TIMEOUT late'));
  assert.ok(!failed.includes('\n'));
});

test('batch summaries count what is known', () => {
  assert.equal(formatBatchSummary({ submitted: 3, seconds: 0.0123 }), 'submitted 3 in 12.3 ms');
  assert.equal(
    formatBatchSummary({ submitted: 3, succeeded: 2, failed: 1, cancelled: 0, seconds: 2 }),
    'submitted 3, succeeded 2, failed 1 in 2.0 s',
  );
});
