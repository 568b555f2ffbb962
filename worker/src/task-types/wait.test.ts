import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskmeshError } from '@taskmesh/shared';
import { MAX_WAIT_MS, progressStepMs, waitType } from './wait.js';
import { parsePayload } from './parse-payload.js';
import { testContext } from './test-context.js';

test('wait sleeps the requested time and reports rising progress', async () => {
  const ctx = testContext();
  const started = performance.now();
  const result = await waitType.handle(parsePayload(waitType, { ms: 350 }), ctx);
  const took = performance.now() - started;
  assert.ok(took >= 340, `took ${took} ms`);
  assert.equal(result.requestedMs, 350);
  assert.ok(result.waitedMs >= 340);
  assert.equal(ctx.reported[0], 0);
  assert.equal(ctx.reported.at(-1), 1);
  assert.ok(ctx.reported.length >= 4, `progress reported ${ctx.reported.length} times`);
  for (let i = 1; i < ctx.reported.length; i++) assert.ok(ctx.reported[i]! > ctx.reported[i - 1]!, 'progress rises');
});

test('wait of 0 ms returns at once', async () => {
  const result = await waitType.handle(parsePayload(waitType, { ms: 0 }), testContext());
  assert.equal(result.requestedMs, 0);
});

test('progress steps are between 100 ms and 1 s', () => {
  assert.equal(progressStepMs(50), 100);
  assert.equal(progressStepMs(5000), 500);
  assert.equal(progressStepMs(MAX_WAIT_MS), 1000);
});

test('a cancelled wait rejects promptly with CANCELLED', async () => {
  const controller = new AbortController();
  const pending = waitType.handle(parsePayload(waitType, { ms: 60_000 }), testContext({ signal: controller.signal }));
  const started = performance.now();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(Promise.resolve(pending), (err: unknown) => err instanceof TaskmeshError && err.code === 'CANCELLED');
  assert.ok(performance.now() - started < 1000, 'rejected within a second of the cancel');
});

test('a wait aborted with a TaskmeshError rejects with that error', async () => {
  const controller = new AbortController();
  controller.abort(new TaskmeshError('TIMEOUT', 'deadline'));
  await assert.rejects(
    Promise.resolve(waitType.handle({ ms: 1000 }, testContext({ signal: controller.signal }))),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'TIMEOUT',
  );
});

test('wait payload is bounded', () => {
  assert.throws(() => parsePayload(waitType, { ms: MAX_WAIT_MS + 1 }), /ms/);
  assert.throws(() => parsePayload(waitType, { ms: -1 }), /ms/);
  assert.throws(() => parsePayload(waitType, { ms: 1.5 }), /ms/);
  assert.throws(() => parsePayload(waitType, { ms: '100' }), /ms/);
});
