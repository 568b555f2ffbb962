import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ConfigError, loadConfig } from '@taskmesh/shared';
import { serviceScript } from '@taskmesh/shared/testing';
import { defaultWorkerName, workerEnvSpec, workerSettings } from './config.js';
import { resolveAdvertiseHost } from './advertise-host.js';
import { imageType } from './task-types/image.js';
import { waitType } from './task-types/wait.js';
import { knownTypes } from './task-types/index.js';

test('defaults: per-type queue sizes, name from type, host and pid', () => {
  const config = loadConfig(workerEnvSpec, {});
  assert.equal(config.nameserviceUrl, 'http://127.0.0.1:7100');
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.port, 0);
  const settings = workerSettings(config, imageType, 'box', 42);
  assert.equal(settings.name, 'image-box-42');
  assert.equal(settings.concurrency, imageType.defaults.concurrency);
  assert.equal(settings.queueSize, imageType.defaults.queueSize);
  const waitSettings = workerSettings(
    loadConfig(workerEnvSpec, { TASKMESH_WORKER_CONCURRENCY: '3', TASKMESH_WORKER_QUEUE_SIZE: '0' }),
    waitType,
  );
  assert.deepEqual([waitSettings.concurrency, waitSettings.queueSize], [3, 0]);
});

test('a hostname with characters a worker name may not hold is made safe', () => {
  assert.equal(defaultWorkerName('hash', 'my host/é', 7), 'hash-my-host---7');
  assert.match(defaultWorkerName('hash', 'x'.repeat(300), 7), /^hash-x{80}-7$/);
});

test('bad variables are named', () => {
  const bad = (env: NodeJS.ProcessEnv, name: RegExp): void =>
    assert.throws(
      () => loadConfig(workerEnvSpec, env),
      (err: unknown) => err instanceof ConfigError && name.test(err.message),
    );
  bad({ TASKMESH_WORKER_CONCURRENCY: '0' }, /TASKMESH_WORKER_CONCURRENCY/);
  bad({ TASKMESH_WORKER_QUEUE_SIZE: 'lots' }, /TASKMESH_WORKER_QUEUE_SIZE/);
  bad({ TASKMESH_WORKER_PORT: '70000' }, /TASKMESH_WORKER_PORT/);
  bad({ TASKMESH_WORKER_NAME: 'has space' }, /TASKMESH_WORKER_NAME/);
  bad({ TASKMESH_NAMESERVICE_URL: 'not a url' }, /TASKMESH_NAMESERVICE_URL/);
});

test('the advertised host: explicit, else a specific bind address, else the route to the nameservice', async () => {
  assert.equal(
    await resolveAdvertiseHost({ advertiseHost: 'worker-1.example', bindHost: '0.0.0.0', nameserviceUrl: 'http://10.0.0.1:7100' }),
    'worker-1.example',
  );
  assert.equal(await resolveAdvertiseHost({ bindHost: '127.0.0.1', nameserviceUrl: 'http://10.0.0.1:7100' }), '127.0.0.1');
  assert.equal(await resolveAdvertiseHost({ bindHost: '0.0.0.0', nameserviceUrl: 'http://127.0.0.1:7100' }), '127.0.0.1');
  assert.equal(
    await resolveAdvertiseHost({ bindHost: '0.0.0.0', nameserviceUrl: 'http://localhost:7100' }).then((h) =>
      ['127.0.0.1', '::1'].includes(h),
    ),
    true,
  );
  await assert.rejects(
    resolveAdvertiseHost({ bindHost: '0.0.0.0', nameserviceUrl: 'http://no-such-host.invalid:7100' }),
    /no-such-host\.invalid/,
  );
});

async function runWorker(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [serviceScript('worker'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stderr };
}

test('an unknown type or a bad variable stops the worker with one line and exit code 2', async () => {
  const unknown = await runWorker(['teleport']);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    `worker: unknown task type "teleport"; known types: ${knownTypes().join(', ')} (or a module of your own: TASKMESH_WORKER_MODULE)\n`,
  );
  const none = await runWorker([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no task type given/);
  const badEnv = await runWorker(['hash'], { TASKMESH_WORKER_CONCURRENCY: 'many' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /^worker: invalid configuration: TASKMESH_WORKER_CONCURRENCY="many"/);
  assert.equal(badEnv.stderr.trim().split('\n').length, 1);
});
