import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import Docker from 'dockerode';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { createMonitoring, type Monitoring } from './monitoring.js';
import type { TasksTopic } from './monitoring.js';
import type { NameserviceSnapshot } from './sources/nameservice-source.js';
import { openRecordingSocket } from './test-support.js';

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('monitoring in-process: token, unreachable upstreams, recovery', () => {
  const token = 'monitoring-test-token';
  let suite: LocalSuite;
  let monitoring: Monitoring;

  before(async () => {
    suite = await startLocalSuite({ dispatcher: false });
    monitoring = await createMonitoring({
      nameserviceUrl: suite.nameserviceUrl,
      dispatcherUrl: `http://127.0.0.1:${await freePort()}`,
      docker: new Docker({ socketPath: '/nonexistent/taskmesh-test/docker.sock' }),
      apiToken: token,
      pollIntervalMs: 100,
    });
  });
  after(async () => {
    await monitoring?.close();
    await suite?.stop();
  });

  test('the API needs the bearer token', async () => {
    const none = await fetch(`${monitoring.url}/api/workers`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    const wrong = await fetch(`${monitoring.url}/api/workers`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${monitoring.url}/api/workers`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(right.status, 200);
    const retry = await fetch(`${monitoring.url}/api/tasks/x/retry`, { method: 'POST' });
    assert.equal(retry.status, 401);
    const health = await fetch(`${monitoring.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('the page takes ?token= once and then the cookie', async () => {
    const none = await fetch(`${monitoring.url}/`);
    assert.equal(none.status, 401);
    assert.match(await none.text(), /token/);
    const vendor = await fetch(`${monitoring.url}/vendor/uPlot.iife.min.js`);
    assert.equal(vendor.status, 401);
    const login = await fetch(`${monitoring.url}/?token=${token}`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await fetch(`${monitoring.url}/`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(page.status, 200);
    // The page's own API calls carry the cookie.
    const api = await fetch(`${monitoring.url}/api/tasks`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(api.status, 200);
  });

  test('WebSockets need the token (query, bearer or same-origin cookie)', async (t) => {
    const wsUrl = monitoring.url.replace(/^http/, 'ws');
    await assert.rejects(openRecordingSocket(`${wsUrl}/api/events`), /HTTP 401/);
    await assert.rejects(openRecordingSocket(`${wsUrl}/api/events?token=nope`), /HTTP 401/);
    await assert.rejects(
      openRecordingSocket(`${wsUrl}/api/events`, { cookie: `taskmesh_token=${token}`, origin: 'http://evil.example' }),
      /HTTP 403/,
    );
    const byQuery = await openRecordingSocket(`${wsUrl}/api/events?token=${token}`);
    t.after(() => byQuery.close());
    const byCookie = await openRecordingSocket(`${wsUrl}/api/events`, { cookie: `taskmesh_token=${token}`, origin: monitoring.url });
    t.after(() => byCookie.close());
    const byBearer = await openRecordingSocket(`${wsUrl}/api/events`, { authorization: `Bearer ${token}` });
    t.after(() => byBearer.close());
    await byBearer.waitFor('workers', () => true);
  });

  test('an unreachable dispatcher is reported, the rest keeps working', async (t) => {
    const socket = await openRecordingSocket(`${monitoring.url.replace(/^http/, 'ws')}/api/events?token=${token}`);
    t.after(() => socket.close());
    const tasks = await socket.waitFor<TasksTopic>('tasks', (d) => !d.connected && /ECONNREFUSED|fetch failed/.test(d.error ?? ''));
    assert.equal(tasks.stats, null);
    await socket.waitFor<NameserviceSnapshot>('workers', (d) => d.connected);
  });

  test('a nameservice that goes away is reported and picked up again when it is back', async (t) => {
    const socket = await openRecordingSocket(`${monitoring.url.replace(/^http/, 'ws')}/api/events?token=${token}`);
    t.after(() => socket.close());
    await socket.waitFor<NameserviceSnapshot>('workers', (d) => d.connected);
    await suite.nameservice.kill('SIGTERM');
    const down = await socket.waitFor<NameserviceSnapshot>('workers', (d) => !d.connected);
    assert.match(down.error ?? '', /unreachable/);
    await suite.restartNameservice();
    await socket.waitFor<NameserviceSnapshot>('workers', (d) => d.connected);
  });
});
