import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import type { RunnerState, TaskEvent } from '@taskmesh/shared';
import type { ProcessesSnapshot } from './sources/runner-source.js';
import type { WorkerView } from './worker-join.js';
import type { TasksTopic } from './monitoring.js';
import { eventually, openRecordingSocket } from './test-support.js';

/**
 * The monitoring service as a real process in a local suite (nameservice, dispatcher, a reverse
 * and an image worker). DOCKER_HOST points at a socket that does not exist, so these tests behave
 * the same on machines with Docker: the containers panel falls back to the runner's processes.
 */
const NO_DOCKER = 'unix:///nonexistent/taskmesh-test/docker.sock';

describe('monitoring against a local suite', () => {
  let suite: LocalSuite;
  let dir: string;
  let stateFile: string;
  let base: string;
  let wsBase: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-monitoring-'));
    stateFile = join(dir, 'runner-state.json');
    suite = await startLocalSuite({
      workers: ['reverse', 'image'],
      monitoring: true,
      monitoringEnv: { DOCKER_HOST: NO_DOCKER, TASKMESH_RUNNER_STATE_FILE: stateFile, TASKMESH_MONITORING_POLL_MS: '250' },
    });
    base = suite.monitoringUrl!;
    wsBase = base.replace(/^http/, 'ws');
  });
  after(async () => {
    await suite?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the ready line says Docker is not connected', () => {
    assert.equal(suite.monitoring!.ready.docker, false);
  });

  test('lists the workers with their load and state', async () => {
    const body = await eventually(
      'two live workers',
      async () => {
        const b = (await (await fetch(`${base}/api/workers`)).json()) as { connected: boolean; workers: WorkerView[] };
        return b.workers.filter((w) => w.state === 'live').length === 2 ? b : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(body.connected, true);
    assert.deepEqual(body.workers.map((w) => w.type).sort(), ['image', 'reverse']);
    for (const w of body.workers) {
      assert.equal(typeof w.load.capacity, 'number');
      assert.ok(w.load.capacity >= 1);
      assert.equal(w.load.queued + w.load.inFlight >= 0, true);
      assert.equal(typeof w.loadRatio, 'number');
      assert.ok(w.heartbeatAgeMs >= 0 && w.heartbeatAgeMs < 5000, `heartbeat age ${w.heartbeatAgeMs}`);
      assert.equal(w.host, '127.0.0.1');
    }
  });

  test('task events submitted to the dispatcher arrive on /api/events', async (t) => {
    const socket = await openRecordingSocket(`${wsBase}/api/events`);
    t.after(() => socket.close());
    // Snapshots come first on connect.
    await socket.waitFor('workers', () => true);
    await socket.waitFor<TasksTopic>('tasks', (d) => d.connected && d.eventsConnected);
    const res = await fetch(`${suite.dispatcherUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'reverse', payload: { text: 'monitoring' } }),
    });
    assert.equal(res.status < 300, true, `submit answered ${res.status}`);
    const { id } = (await res.json()) as { id: string };
    const done = await socket.waitFor<TaskEvent>('task-event', (e) => e.taskId === id && e.event === 'succeeded');
    assert.equal(done.type, 'reverse');
    assert.equal(typeof done.latencyMs, 'number');
    const tasks = await socket.waitFor<TasksTopic>('tasks', (d) => (d.stats?.types.reverse?.succeeded ?? 0) >= 1);
    assert.ok(tasks.throughput && tasks.throughput.total.length > 0);
    const api = (await (await fetch(`${base}/api/tasks`)).json()) as TasksTopic & { events: TaskEvent[] };
    assert.ok(api.events.some((e) => e.taskId === id && e.event === 'succeeded'));
  });

  test('the dashboard follows a dispatcher that crashed and came back: events resume after the last one, none twice', async (t) => {
    const socket = await openRecordingSocket(`${wsBase}/api/events`);
    t.after(() => socket.close());
    await socket.waitFor<TasksTopic>('tasks', (d) => d.connected && d.eventsConnected);
    const submit = async (text: string): Promise<string> => {
      const res = await fetch(`${suite.dispatcherUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'reverse', payload: { text } }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    const before = await submit('before the crash');
    await socket.waitFor<TaskEvent>('task-event', (e) => e.taskId === before && e.event === 'succeeded');
    await suite.restartDispatcher('SIGKILL');
    await socket.waitFor<TasksTopic>('tasks', (d) => d.connected && d.eventsConnected, 20_000);
    const afterId = await submit('after the crash');
    await socket.waitFor<TaskEvent>('task-event', (e) => e.taskId === afterId && e.event === 'succeeded', 20_000);
    const api = (await (await fetch(`${base}/api/tasks`)).json()) as { events: TaskEvent[] };
    const seqs = api.events.map((e) => e.seq);
    assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
    const last = api.events.filter((e) => e.taskId === afterId);
    assert.ok(last.length > 0 && last.every((e) => e.seq > (api.events.find((x) => x.taskId === before)?.seq ?? 0)));
  });

  test('a failed task is listed and can be retried through the proxy', async () => {
    const res = await fetch(`${suite.dispatcherUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A valid task of a type no worker of this suite runs: it fails with TIMEOUT.
      body: JSON.stringify({ type: 'hash', payload: { text: 'x' }, timeoutMs: 200, maxAttempts: 1 }),
    });
    const { id } = (await res.json()) as { id: string };
    const tasks = await eventually(
      'the failed task in /api/tasks',
      async () => {
        const b = (await (await fetch(`${base}/api/tasks`)).json()) as TasksTopic;
        return b.failed.some((f) => f.id === id) ? b : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(tasks.failed.find((f) => f.id === id)?.type, 'hash');
    const retry = await fetch(`${base}/api/tasks/${id}/retry`, { method: 'POST' });
    assert.equal(retry.status < 300, true, `retry answered ${retry.status}`);
    const unknown = await fetch(`${base}/api/tasks/no-such-task/retry`, { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    const bad = await fetch(`${base}/api/tasks/${'%20'.repeat(3)}/retry`, { method: 'POST' });
    assert.equal(bad.status, 400);
  });

  test('without Docker, the process view shows the runner state with pid, CPU and memory', async (t) => {
    const containers = (await (await fetch(`${base}/api/containers`)).json()) as {
      docker: { connected: boolean; error?: string };
      containers: unknown[];
    };
    assert.equal(containers.docker.connected, false);
    assert.match(containers.docker.error ?? '', /nonexistent|ENOENT|connect/i);
    assert.deepEqual(containers.containers, []);

    const socket = await openRecordingSocket(`${wsBase}/api/events`);
    t.after(() => socket.close());
    const missing = await socket.waitFor<ProcessesSnapshot>('processes', () => true);
    assert.equal(missing.available, false);
    assert.match(missing.error ?? '', /does not exist/);

    const now = Date.now();
    const state: RunnerState = {
      version: 1,
      runnerPid: process.pid,
      updatedAt: now,
      processes: [
        { name: 'nameservice', pid: suite.nameservice.pid, status: 'running', startedAt: now - 5000, restarts: 0, lastExitCode: null },
        { name: 'dispatcher', pid: suite.dispatcher!.pid, status: 'running', startedAt: now - 4000, restarts: 1, lastExitCode: 1 },
        ...suite.workers.map((w, i) => ({
          name: `worker-${i}`,
          pid: w.pid,
          status: 'running' as const,
          startedAt: now - 3000,
          restarts: 0,
          lastExitCode: null,
        })),
        { name: 'worker-crashed', pid: null, status: 'crashed', startedAt: null, restarts: 5, lastExitCode: 3 },
      ],
    };
    // Written atomically, as the runner does, so no half-written file is ever read.
    await writeFile(`${stateFile}.tmp`, JSON.stringify(state));
    await rename(`${stateFile}.tmp`, stateFile);

    const snap = await socket.waitFor<ProcessesSnapshot>('processes', (d) => d.available);
    assert.equal(snap.runnerPid, process.pid);
    const ns = snap.processes.find((p) => p.name === 'nameservice')!;
    assert.equal(ns.pid, suite.nameservice.pid);
    assert.equal(ns.alive, true);
    assert.equal(typeof ns.cpuPercent, 'number');
    assert.ok(ns.memoryBytes !== null && ns.memoryBytes > 1024 * 1024, `memory ${ns.memoryBytes}`);
    assert.ok(ns.uptimeMs !== null && ns.uptimeMs >= 5000);
    assert.equal(snap.processes.find((p) => p.name === 'dispatcher')?.restarts, 1);
    const crashed = snap.processes.find((p) => p.name === 'worker-crashed')!;
    assert.equal(crashed.alive, false);
    assert.equal(crashed.memoryBytes, null);

    // Workers are joined with their runner process by pid.
    const workers = await socket.waitFor<{ workers: WorkerView[] }>(
      'workers',
      (d) => d.workers.length > 0 && d.workers.every((w) => w.process !== null),
    );
    for (const w of workers.workers) assert.equal(w.process?.pid, w.pid);
    const api = (await (await fetch(`${base}/api/processes`)).json()) as ProcessesSnapshot;
    assert.equal(api.processes.length, state.processes.length);
  });

  test('serves the page and uPlot from node_modules', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>taskmesh/);
    const vendor = await fetch(`${base}/vendor/uPlot.iife.min.js`);
    assert.equal(vendor.status, 200);
    assert.match(await vendor.text(), /uPlot/);
    const missing = await fetch(`${base}/api/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  test('logs of a container are refused without Docker', async (t) => {
    const socket = await openRecordingSocket(`${wsBase}/api/containers/abcdef123456/logs`);
    t.after(() => socket.close());
    const end = await socket.waitFor<{ error?: string }>('log-end', () => true);
    assert.match(end.error ?? '', /Docker is not connected/);
  });

  test('SIGTERM closes the open WebSockets and exits 0', async () => {
    const socket = await openRecordingSocket(`${wsBase}/api/events`);
    const closed = new Promise<number>((resolve) => socket.ws.once('close', (code) => resolve(code)));
    const { code } = await suite.monitoring!.kill('SIGTERM');
    assert.equal(code, 0);
    assert.equal(await closed, 1001);
  });
});
