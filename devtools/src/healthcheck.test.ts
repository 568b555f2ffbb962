import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { startLocalSuite } from '@taskmesh/shared/testing';
import { checkHttp, checkWorkerRegistered, localAddresses } from './healthcheck.js';
import { freePort } from './test-support.js';

const MAIN = fileURLToPath(new URL('./healthcheck-main.js', import.meta.url));

test('health checks against a real nameservice, dispatcher and worker', async (t) => {
  const suite = await startLocalSuite({ workers: ['reverse'] });
  t.after(() => suite.stop());
  const { name } = suite.workers[0]!.ready;
  const workerName = typeof name === 'string' ? name : '';

  assert.equal((await checkHttp(`${suite.nameserviceUrl}/healthz`)).healthy, true);
  // The worker registered at 127.0.0.1: healthy from there, not from an address it does not have.
  const here = await checkWorkerRegistered({ nameserviceUrl: suite.nameserviceUrl, addresses: ['127.0.0.1'] });
  assert.equal(here.healthy, true, here.detail);
  const elsewhere = await checkWorkerRegistered({ nameserviceUrl: suite.nameserviceUrl, addresses: ['10.255.0.9'] });
  assert.deepEqual(elsewhere, { healthy: false, detail: 'no registration at 10.255.0.9' });
  if (workerName) {
    const other = await checkWorkerRegistered({ nameserviceUrl: suite.nameserviceUrl, addresses: ['127.0.0.1'], name: `${workerName}-x` });
    assert.equal(other.healthy, false);
  }
  assert.ok(localAddresses().includes('127.0.0.1'));

  // The command line, as Docker runs it, with the container's variables.
  const port = new URL(suite.dispatcherUrl!).port;
  const ok = spawnSync(process.execPath, [MAIN, 'dispatcher'], {
    encoding: 'utf8',
    env: { ...process.env, TASKMESH_DISPATCHER_PORT: port },
  });
  assert.equal(ok.status, 0, ok.stdout);
  assert.match(ok.stdout, /^healthy: .* answered 200/);
  const worker = spawnSync(process.execPath, [MAIN, 'worker'], {
    encoding: 'utf8',
    env: { ...process.env, TASKMESH_NAMESERVICE_URL: suite.nameserviceUrl },
  });
  assert.equal(worker.status, 0, worker.stdout);
  assert.match(worker.stdout, /^healthy: registered as /);
});

test('unreachable services and bad usage are unhealthy with a reason', async () => {
  const port = await freePort();
  const down = await checkHttp(`http://127.0.0.1:${port}/healthz`);
  assert.equal(down.healthy, false);
  assert.match(down.detail, new RegExp(`127\\.0\\.0\\.1:${port}/healthz: `));
  const ns = await checkWorkerRegistered({ nameserviceUrl: `http://127.0.0.1:${port}`, addresses: ['127.0.0.1'] });
  assert.equal(ns.healthy, false);
  const usage = spawnSync(process.execPath, [MAIN, 'nonsense'], { encoding: 'utf8' });
  assert.equal(usage.status, 1);
  assert.match(usage.stdout, /usage: healthcheck-main\.js <nameservice\|dispatcher\|monitoring\|worker>/);
});
