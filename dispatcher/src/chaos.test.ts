import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api } from './test-support.js';

/**
 * Chaos controls at the dispatcher: refused unless TASKMESH_CHAOS=1, behind the API token, and
 * without a runner (no IPC channel) only loss is offered. Under the runner: devtools' runner tests.
 */
let off: LocalSuite;
let on: LocalSuite;
const TOKEN = 'chaos-test-token-0123456789';
before(async () => {
  [off, on] = await Promise.all([
    startLocalSuite({ workers: ['reverse'] }),
    startLocalSuite({ workers: ['reverse'], env: { TASKMESH_API_TOKEN: TOKEN }, dispatcherEnv: { TASKMESH_CHAOS: '1' } }),
  ]);
});
after(async () => {
  await Promise.all([off?.stop(), on?.stop()]);
});

const reverseWorker = async (base: string, token?: string): Promise<string> =>
  ((await api(base, '/v1/workers', token === undefined ? {} : { token })).body.workers as Array<{ name: string }>)[0]!.name;

test('chaos controls are off by default: 403 FORBIDDEN naming TASKMESH_CHAOS, and nothing is done', async () => {
  const base = off.dispatcherUrl!;
  const status = await api(base, '/v1/chaos');
  assert.deepEqual(status.body, { enabled: false, supervisor: null, faults: [] });
  const refused = await api(base, '/v1/chaos/kill', { body: { worker: await reverseWorker(base) } });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, 'FORBIDDEN');
  assert.match(refused.body.error.message, /TASKMESH_CHAOS=1/);
  assert.equal(off.workers[0]!.proc.exitCode, null);
});

test('with TASKMESH_CHAOS=1: the token is required, loss works, and kill or pause without a runner is refused saying why', async () => {
  const base = on.dispatcherUrl!;
  const worker = await reverseWorker(base, TOKEN);
  assert.equal((await api(base, '/v1/chaos/loss', { body: { worker, percent: 10 } })).status, 401);
  const status = await api(base, '/v1/chaos', { token: TOKEN });
  assert.deepEqual(status.body, { enabled: true, supervisor: null, faults: [] });

  const loss = await api(base, '/v1/chaos/loss', { token: TOKEN, body: { worker, percent: 10, forMs: 1000 } });
  assert.equal(loss.status, 200, JSON.stringify(loss.body));
  assert.equal(loss.body.action, 'loss');
  assert.ok(loss.body.until > Date.now());
  const listed = await api(base, '/v1/chaos', { token: TOKEN });
  assert.deepEqual(
    listed.body.faults.map((f: { worker: string; kind: string; percent: number }) => [f.worker, f.kind, f.percent]),
    [[worker, 'loss', 10]],
  );
  // A loss of 0 % ends it before its time.
  const ended = await api(base, '/v1/chaos/loss', { token: TOKEN, body: { worker, percent: 0 } });
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
  assert.equal(ended.body.until, null);
  assert.deepEqual((await api(base, '/v1/chaos', { token: TOKEN })).body.faults, []);
  const pause = await api(base, '/v1/chaos/pause', { token: TOKEN, body: { worker } });
  assert.equal(pause.status, 409);
  assert.match(pause.body.error.message, /npm start/);
  assert.equal((await api(base, '/v1/chaos/explode', { token: TOKEN, body: { worker } })).status, 400);
  assert.equal((await api(base, '/v1/chaos/loss', { token: TOKEN, body: { worker } })).status, 400);
  assert.equal((await api(base, '/v1/chaos/loss', { token: TOKEN, body: { worker, percent: 5, forMs: 10_000_000 } })).status, 400);
  assert.equal(on.workers[0]!.proc.exitCode, null);
});
