import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { unixSocketPath } from './privileges.js';

const run = promisify(execFile);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const PRIVILEGES = fileURLToPath(new URL('./privileges.js', import.meta.url));

test('the socket path is read from a unix DOCKER_HOST only', () => {
  assert.equal(unixSocketPath('unix:///var/run/docker.sock'), '/var/run/docker.sock');
  assert.equal(unixSocketPath('tcp://docker-proxy:2375'), undefined);
  assert.equal(unixSocketPath('unix://'), undefined);
});

/** A real process started as root joins the socket's group and drops root, as the image does. */
async function dropInChild(dockerHost: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const script = `
    import { dropPrivileges } from ${JSON.stringify(PRIVILEGES)};
    import { readFileSync } from 'node:fs';
    const gid = process.env.DOCKER_GID ? Number(process.env.DOCKER_GID) : undefined;
    dropPrivileges({ dockerHost: ${JSON.stringify(dockerHost)}, overrideGid: gid });
    process.stdout.write(readFileSync('/proc/self/status', 'utf8'));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
  return stdout;
}

const field = (status: string, name: string): number[] =>
  (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);

test(
  "started as root, monitoring joins the socket's group and keeps no root uid or gid",
  { skip: isRoot ? false : 'needs root (CI and the dev machines run as root)' },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'taskmesh-priv-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const socket = join(dir, 'docker.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await chown(socket, 0, 4242);
    const status = await dropInChild(`unix://${socket}`);
    assert.deepEqual(field(status, 'Uid'), [10001, 10001, 10001, 10001]);
    assert.deepEqual(field(status, 'Gid'), [10001, 10001, 10001, 10001]);
    assert.deepEqual(field(status, 'Groups'), [4242]);
    // DOCKER_GID overrides the socket's group; no socket at all joins nothing.
    assert.deepEqual(field(await dropInChild(`unix://${socket}`, { DOCKER_GID: '4343' }), 'Groups'), [4343]);
    assert.deepEqual(field(await dropInChild('unix:///nonexistent/docker.sock'), 'Groups'), []);
    assert.deepEqual(field(await dropInChild('tcp://127.0.0.1:2375'), 'Uid'), [10001, 10001, 10001, 10001]);
  },
);
