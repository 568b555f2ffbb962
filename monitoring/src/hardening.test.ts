import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';

/** The dashboard process against what a hostile client or a page on another site sends it. */
let suite: LocalSuite;
let monitoring: RunningService;
let port: number;

before(async () => {
  suite = await startLocalSuite({
    dispatcher: true,
    monitoring: true,
    monitoringEnv: { DOCKER_HOST: 'unix:///nonexistent/taskmesh-test/docker.sock' },
  });
  monitoring = suite.monitoring!;
  port = monitoring.ready.http!;
});
after(() => suite?.stop());

/** Raw HTTP/1.1 over a socket: any request target, any header, exactly as written. */
async function raw(text: string): Promise<{ status: number; body: string }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  await once(socket, 'close');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
  return { status, body: answer.slice(answer.indexOf('\r\n\r\n') + 4) };
}

const upgrade = (target: string, headers = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`;

/** The same monitoring process answers, and its API still works. */
async function stillServing(): Promise<void> {
  assert.equal(monitoring.proc.exitCode, null, 'monitoring exited');
  const res = await fetch(`http://127.0.0.1:${port}/api/workers`);
  assert.equal(res.status, 200);
}

test('an upgrade for a malformed URL is 400, and monitoring keeps serving', async () => {
  for (const target of ['//x:99999/', '//x:99999/api/events', '/api/events/%E0%A4%A']) {
    const r = await raw(upgrade(target));
    assert.ok(r.status === 400 || r.status === 404, `${target}: ${r.status}`);
    if (target.startsWith('//')) {
      assert.equal(r.status, 400, target);
      assert.equal(JSON.parse(r.body).error.code, 'INVALID_REQUEST');
    }
  }
  const plain = await raw(`GET //x:99999/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  assert.ok(plain.status >= 400 && plain.status < 500, `plain GET: ${plain.status}`);
  await stillServing();
});

test("a WebSocket from another site is refused 403; the dashboard's own origin is taken", async () => {
  const refused = await raw(upgrade('/api/events', 'Origin: http://evil.example\r\n'));
  assert.equal(refused.status, 403);
  const own = new WebSocket(`ws://127.0.0.1:${port}/api/events`, { headers: { origin: `http://127.0.0.1:${port}` } });
  await once(own, 'open');
  own.close();
  await stillServing();
});

test('a foreign Host (DNS rebinding) is 403; a cross-site retry is 403', async () => {
  const rebound = await raw(`GET /api/tasks HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`);
  assert.equal(rebound.status, 403);
  assert.equal(JSON.parse(rebound.body).error.code, 'FORBIDDEN');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/tasks/some-task/retry', headers: { origin: 'http://evil.example' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
  await stillServing();
});
