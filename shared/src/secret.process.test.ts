import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SECRET } from './config.js';
import { serviceScript, spawnService } from './testing/index.js';

/** Each service that speaks the secret, with what it needs to get as far as reading it. */
const SERVICES: Array<{ name: string; args: string[] }> = [
  { name: 'nameservice', args: [] },
  { name: 'dispatcher', args: [] },
  { name: 'worker', args: ['reverse'] },
];

async function runToExit(workspace: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [serviceScript(workspace), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

for (const { name, args } of SERVICES) {
  test(`${name} refuses to start without TASKMESH_SECRET or with a short one, naming the variable`, async () => {
    const unset = await runToExit(name, args, { TASKMESH_SECRET: '', TASKMESH_ALLOW_DEV_SECRET: '' });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /TASKMESH_SECRET is not set/);
    assert.match(unset.stderr, /TASKMESH_ALLOW_DEV_SECRET=1/);
    const short = await runToExit(name, args, { TASKMESH_SECRET: 'hunter2' });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /TASKMESH_SECRET is too short: 7 characters, at least 32/);
    // The public development secret written out by hand is as public as the default.
    const spelled = await runToExit(name, args, { TASKMESH_SECRET: DEVELOPMENT_SECRET, TASKMESH_ALLOW_DEV_SECRET: '' });
    assert.equal(spelled.code, 2);
    assert.match(spelled.stderr, /TASKMESH_SECRET is the public development secret/);
  });
}

test('TASKMESH_ALLOW_DEV_SECRET=1 starts a service on the public development secret, with a warning', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-devsecret-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ns = await spawnService({
    name: 'nameservice',
    script: serviceScript('nameservice'),
    env: {
      TASKMESH_SECRET: '',
      TASKMESH_ALLOW_DEV_SECRET: '1',
      TASKMESH_NAMESERVICE_PORT: '0',
      TASKMESH_NAMESERVICE_HOST: '127.0.0.1',
      TASKMESH_REGISTRY_FILE: join(dir, 'registry.json'),
    },
  });
  t.after(() => ns.kill('SIGKILL'));
  const warning = ns.lines.find((l) => l.event === 'insecure-secret');
  assert.ok(warning !== undefined, 'the insecure-secret warning');
  assert.equal(warning.level, 'warn');
});

for (const name of ['dispatcher', 'monitoring']) {
  test(`${name} published beyond loopback refuses to start without TASKMESH_API_TOKEN, naming the ways out`, async () => {
    const open = await runToExit(name, [], { TASKMESH_SECRET: 'x'.repeat(32), TASKMESH_PUBLISHED_ON: '0.0.0.0', TASKMESH_API_TOKEN: '' });
    assert.equal(open.code, 2);
    assert.match(open.stderr, /published on 0\.0\.0\.0 \(TASKMESH_PUBLISHED_ON\) and TASKMESH_API_TOKEN is not set/);
    assert.match(open.stderr, /TASKMESH_ALLOW_OPEN_API=1/);
  });
}
