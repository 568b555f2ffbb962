import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_PORTS, TaskRecord, WorkerListResponse, type WorkerRecord } from '@taskmesh/shared';
import { REPO_ROOT } from '@taskmesh/shared/testing';
import { WebSocket } from 'undici';
import { composeCommand, containersWith, dockerEngine, inspectContainers, run } from './docker-cli.js';
import { freePort, eventually } from './test-support.js';

/**
 * The container deployment against a real Docker engine (`npm run test:compose`): builds the
 * images, runs docker-compose.yml as project `taskmesh-test`, drives it with the CLI, scales,
 * kills and stops workers, reads the monitoring API, then deploys docker-stack.yml on a
 * single-node Swarm. Without an engine it says so in one line and skips.
 */
const engine = dockerEngine();
// One skipped test (a skipped suite would count no test at all and fail run-tests).
if (!engine.ok) test('compose suite', { skip: `no Docker engine (docker info: ${engine.reason})` }, () => {});
const skip = !engine.ok;

const PROJECT = 'taskmesh-test';
const STACK = 'taskmesh-test-stack';
const SECRET = 'taskmesh-compose-test-secret-0123456789abcdef';
const CLI = join(REPO_ROOT, 'client', 'dist', 'main.js');
const BUILD_TIMEOUT_MS = 20 * 60_000;
/** A type of your own with a dependency of its own (`ms`), in its own folder with a package-lock. */
const OWN_DEPS_DIR = 'devtools/fixtures/own-deps';
/** Set once this run has built the images, so the Swarm part does not build them again. */
let imagesBuilt = false;

/** A task of each type, as the CLI takes it, and a check of its result. */
const TASKS: Array<{ type: string; args: string[]; check: (result: unknown) => void }> = [
  { type: 'reverse', args: ['hello'], check: (r) => assert.deepEqual(r, { text: 'olleh' }) },
  { type: 'upper', args: ['hello'], check: (r) => assert.deepEqual(r, { text: 'HELLO' }) },
  {
    type: 'hash',
    args: ['hello'],
    check: (r) => assert.equal((r as { digest: string }).digest, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'),
  },
  { type: 'sum', args: ['1', '2', '3.5'], check: (r) => assert.equal((r as { sum: number }).sum, 6.5) },
  { type: 'wait', args: ['300'], check: (r) => assert.ok((r as { waitedMs: number }).waitedMs >= 300) },
  {
    type: 'image',
    args: ['--text', 'compose', '--width', '64', '--height', '48'],
    check: (r) => {
      const img = r as { format: string; width: number; height: number; data: string; bytes: number };
      assert.deepEqual([img.format, img.width, img.height], ['png', 64, 48]);
      const bytes = Buffer.from(img.data, 'base64');
      assert.equal(bytes.length, img.bytes);
      assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    },
  },
  // A type of your own (workers.json: examples/wordcount.mjs), in an image of its own, through the
  // CLI with a JSON payload: the dispatcher learned it, and validates it, from the registration.
  { type: 'wordcount', args: ['{"text":"one two three"}'], check: (r) => assert.deepEqual(r, { words: 3 }) },
];

/** Runs one task with the CLI (`submit --wait --json`) and returns its record. */
async function cliTask(dispatcherUrl: string, type: string, args: string[]): Promise<TaskRecord> {
  const { stdout } = await run(process.execPath, [CLI, '--dispatcher', dispatcherUrl, 'submit', type, ...args, '--wait', '--json'], {
    timeoutMs: 60_000,
  });
  return TaskRecord.parse(JSON.parse(stdout));
}

/** Submits over HTTP and waits for the end; many at once share out over the workers. */
async function httpTask(dispatcherUrl: string, type: string, payload: unknown): Promise<TaskRecord> {
  const res = await fetch(`${dispatcherUrl}/v1/tasks?wait=30000`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type, payload }),
  });
  const body: unknown = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return TaskRecord.parse(body);
}

/**
 * Submits tasks as one batch (so they are all waiting when the dispatcher picks workers, however
 * fast each one is) and waits for each to end.
 */
async function batchTasks(dispatcherUrl: string, type: string, payloads: unknown[]): Promise<TaskRecord[]> {
  const res = await fetch(`${dispatcherUrl}/v1/tasks/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tasks: payloads.map((payload) => ({ type, payload })) }),
  });
  const body = (await res.json()) as { ids: string[] };
  assert.equal(res.status, 202, JSON.stringify(body));
  return Promise.all(
    body.ids.map(async (id) => {
      const done = await fetch(`${dispatcherUrl}/v1/tasks/${id}?wait=30000`);
      return TaskRecord.parse(await done.json());
    }),
  );
}

async function listWorkers(dispatcherUrl: string): Promise<WorkerRecord[]> {
  const res = await fetch(`${dispatcherUrl}/v1/workers`);
  if (!res.ok) throw new Error(`GET /v1/workers: ${res.status}`);
  return WorkerListResponse.parse(await res.json()).workers;
}

const liveOf = (workers: WorkerRecord[], type: string): WorkerRecord[] => workers.filter((w) => w.type === type && w.state === 'live');

async function runAllTypes(dispatcherUrl: string): Promise<void> {
  for (const { type, args, check } of TASKS) {
    const record = await cliTask(dispatcherUrl, type, args);
    assert.equal(record.status, 'succeeded', `${type}: ${JSON.stringify(record.error)}`);
    check(record.result);
  }
}

type HubMessage = { topic: string; data: Record<string, unknown> };

/** The first message of a monitoring WebSocket that `wanted` takes, within 30 s. */
function firstMessage(url: string, wanted: (m: HubMessage) => boolean): Promise<HubMessage> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`nothing wanted from ${url} within 30 s`));
    }, 30_000);
    ws.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as HubMessage;
      if (!wanted(message)) return;
      clearTimeout(timer);
      ws.close();
      resolve(message);
    });
    ws.addEventListener('error', () => undefined);
  });
}

/** Inside the monitoring container, its process (pid 1) is 10001 in the socket's group, nothing of root left. */
async function assertUnprivileged(containerId: string): Promise<void> {
  const status = await run(
    'docker',
    ['exec', containerId, 'node', '-e', "process.stdout.write(require('fs').readFileSync('/proc/1/status', 'utf8'))"],
    { timeoutMs: 30_000 },
  );
  const field = (name: string): number[] =>
    (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status.stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.deepEqual(field('Uid'), [10001, 10001, 10001, 10001], status.stdout);
  assert.deepEqual(field('Gid'), [10001, 10001, 10001, 10001], status.stdout);
  const group = expectedDockerGroup();
  if (group !== undefined) assert.deepEqual(field('Groups'), [group], `joined the socket's group ${group}`);
  if (group !== 0) assert.ok(!field('Groups').includes(0), 'no root group');
}

/** The dashboard's three Docker panels: connected, a container's log lines, and a container's death in the feed. */
async function assertDashboardSeesDocker(monitoringUrl: string, logsOf: string, killedId: string): Promise<void> {
  const wsBase = monitoringUrl.replace('http', 'ws');
  const docker = (await (await fetch(`${monitoringUrl}/api/containers`)).json()) as { docker: { connected: boolean; error?: string } };
  assert.equal(docker.docker.connected, true, docker.docker.error);
  const line = await firstMessage(`${wsBase}/api/containers/${logsOf}/logs?tail=20`, (m) => m.topic === 'log' || m.topic === 'log-end');
  assert.equal(line.topic, 'log', JSON.stringify(line.data));
  assert.ok(typeof line.data.text === 'string' && line.data.text.length > 0);
  const event = await firstMessage(
    `${wsBase}/api/events`,
    (m) => m.topic === 'docker-event' && m.data.id === killedId && (m.data.action === 'kill' || m.data.action === 'die'),
  );
  assert.equal(event.data.id, killedId);
}

/** The group monitoring must end up in: DOCKER_GID when this run checks the override, else the socket's. */
function expectedDockerGroup(): number | undefined {
  if (process.env.DOCKER_GID) return Number(process.env.DOCKER_GID);
  try {
    return statSync('/var/run/docker.sock').gid;
  } catch {
    return undefined; // a remote engine (DOCKER_HOST): monitoring then shows what it can
  }
}

/**
 * The environment of every compose and stack command: what the README's Docker section asks a
 * user to set (the secret) and free host ports. DOCKER_GID only when the run itself has it (the
 * override's check); otherwise monitoring finds the socket's group by itself.
 */
async function deploymentEnv(): Promise<{ env: NodeJS.ProcessEnv; dispatcherUrl: string; monitoringUrl: string }> {
  // The usual ports (the CLI's default dispatcher URL) unless something else holds them.
  const [dp, mon] = [await freePort(DEFAULT_PORTS.dispatcher), await freePort(DEFAULT_PORTS.monitoring)];
  const { DOCKER_GID: _unset, ...inherited } = process.env;
  return {
    env: {
      ...inherited,
      TASKMESH_SECRET: SECRET,
      TASKMESH_DISPATCHER_PUBLISH: String(dp),
      TASKMESH_MONITORING_PUBLISH: String(mon),
      // Off in the generated files unless set: the suite turns the chaos controls on.
      TASKMESH_CHAOS: '1',
      ...(process.env.DOCKER_GID ? { DOCKER_GID: process.env.DOCKER_GID } : {}),
    },
    dispatcherUrl: `http://127.0.0.1:${dp}`,
    monitoringUrl: `http://127.0.0.1:${mon}`,
  };
}

if (!skip)
  describe('docker compose: docker-compose.yml', () => {
    const compose = composeCommand();
    let env: NodeJS.ProcessEnv;
    let dispatcherUrl: string;
    let monitoringUrl: string;
    let killed: { id: string; name: string } | undefined;
    const dc = (args: string[], timeoutMs?: number) =>
      run(compose[0]!, [...compose.slice(1), '-p', PROJECT, '-f', join(REPO_ROOT, 'docker-compose.yml'), ...args], {
        env,
        cwd: REPO_ROOT,
        ...(timeoutMs ? { timeoutMs } : {}),
      });
    const serviceContainers = async (service: string) =>
      inspectContainers(await containersWith({ 'com.docker.compose.project': PROJECT, 'com.docker.compose.service': service }));

    before(async () => {
      ({ env, dispatcherUrl, monitoringUrl } = await deploymentEnv());
      console.log(`compose suite: ${compose.join(' ')}, NODE_IMAGE=${env.NODE_IMAGE ?? '(default)'}, project ${PROJECT}`);
      await dc(['down', '-v', '--remove-orphans'], 120_000).catch(() => undefined);
      await dc(['build'], BUILD_TIMEOUT_MS);
      imagesBuilt = true;
      await dc(['up', '-d'], 300_000);
    });

    after(async () => {
      if (!env) return;
      await dc(['down', '-v', '--remove-orphans', '--timeout', '20'], 180_000).catch((err: Error) =>
        console.log(`compose down: ${err.message}`),
      );
    });

    test('every container becomes healthy', async () => {
      const all = await eventually(
        'all containers healthy',
        async () => {
          const states = await inspectContainers(await containersWith({ 'com.docker.compose.project': PROJECT }));
          return states.length >= 10 && states.every((s) => s.health === 'healthy') ? states : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1000 },
      ).catch(async (err: Error) => {
        const logs = await dc(['logs', '--tail', '30'], 60_000).catch(() => ({ stdout: '' }));
        throw new Error(`${err.message}\n${logs.stdout.slice(-6000)}`);
      });
      assert.equal(all.length, 10);
      assert.equal(liveOf(await listWorkers(dispatcherUrl), 'reverse').length, 1);
    });

    test('one task of each type through the CLI', async () => {
      await runAllTypes(dispatcherUrl);
    });

    test('worker-reverse scaled to 3: three registered and sharing tasks', async () => {
      await dc(['up', '-d', '--no-recreate', '--scale', 'worker-reverse=3'], 180_000);
      await eventually(
        'three live reverse workers',
        async () => (liveOf(await listWorkers(dispatcherUrl), 'reverse').length === 3 ? true : undefined),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
      // The dispatcher's own view of the type catches up within its lookup cache (750 ms); a batch
      // then has all its tasks waiting at once, so the pick spreads them (single quick tasks, each
      // done before the next arrives, would rightly all go to the one warm worker).
      await eventually(
        'the dispatcher to route to a new reverse worker',
        async () => {
          const records = await batchTasks(
            dispatcherUrl,
            'reverse',
            Array.from({ length: 30 }, (_, i) => ({ text: `task ${i}` })),
          );
          assert.ok(records.every((r) => r.status === 'succeeded'));
          return new Set(records.map((r) => r.worker)).size >= 2 ? true : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      const records = await batchTasks(
        dispatcherUrl,
        'reverse',
        Array.from({ length: 30 }, (_, i) => ({ text: `task ${i}` })),
      );
      assert.ok(records.every((r) => r.status === 'succeeded'));
      const used = new Set(records.map((r) => r.worker));
      assert.ok(used.size >= 2, `tasks ran on ${[...used].join(', ')}`);
    });

    test('a killed worker container expires from the registry; tasks keep succeeding', async () => {
      const [victim] = await serviceContainers('worker-reverse');
      assert.ok(victim, 'a reverse container');
      const record = liveOf(await listWorkers(dispatcherUrl), 'reverse').find((w) => victim.ipAddresses.includes(w.host));
      assert.ok(record, `a live registration at ${victim.ipAddresses.join(', ')}`);
      await run('docker', ['kill', victim.id]);
      killed = { id: victim.id, name: record.name };
      await eventually(
        `${record.name} to leave the live set`,
        async () => {
          const w = (await listWorkers(dispatcherUrl)).find((x) => x.name === record.name);
          return w === undefined || w.state === 'expired' ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.equal(liveOf(await listWorkers(dispatcherUrl), 'reverse').length, 2);
      const records = await Promise.all(Array.from({ length: 12 }, (_, i) => httpTask(dispatcherUrl, 'reverse', { text: `after ${i}` })));
      assert.ok(records.every((r) => r.status === 'succeeded' && r.worker !== record.name));
      const [state] = await inspectContainers([victim.id]);
      assert.deepEqual([state!.status, state!.exitCode], ['exited', 137]);
    });

    test('a worker container killed mid-task: monitoring reports its die, and the task finishes elsewhere within a second plus its run time', async () => {
      // Only worker-wait: `up` on every service would start the killed reverse container again,
      // which a later test expects to find exited.
      await dc(['up', '-d', '--no-recreate', '--no-deps', '--scale', 'worker-wait=2', 'worker-wait'], 180_000);
      await eventually(
        'two live wait workers',
        async () => (liveOf(await listWorkers(dispatcherUrl), 'wait').length === 2 ? true : undefined),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
      const runMs = 1500;
      const submitted = await fetch(`${dispatcherUrl}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'wait', payload: { ms: runMs } }),
      });
      const { id } = (await submitted.json()) as { id: string };
      const running = await eventually(
        'the task to run',
        async () => {
          const task = TaskRecord.parse(await (await fetch(`${dispatcherUrl}/v1/tasks/${id}`)).json());
          return task.status === 'running' ? task : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      const holder = (await listWorkers(dispatcherUrl)).find((w) => w.name === running.worker)!;
      const container = (await serviceContainers('worker-wait')).find((c) => c.ipAddresses.includes(holder.host))!;
      assert.ok(container, `the container at ${holder.host}`);
      const killedAt = Date.now();
      await run('docker', ['kill', container.id]);
      const done = TaskRecord.parse(await (await fetch(`${dispatcherUrl}/v1/tasks/${id}?wait=20000`)).json());
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.notEqual(done.worker, running.worker);
      // From the moment the container died (Docker's own record), not from when the docker CLI was
      // started: the keep-alive timeout alone would take 3.5 s before the second attempt starts.
      const [dead] = await inspectContainers([container.id]);
      const diedAt = dead!.finishedAt ?? killedAt;
      const afterKill = done.finishedAt! - diedAt;
      console.log(`compose failover: the task ended ${afterKill} ms after its worker died (${runMs} ms of it its own run)`);
      assert.ok(afterKill < 1000 + runMs + 500, `finished ${afterKill} ms after the kill`);
      const trace = (await (await fetch(`${dispatcherUrl}/v1/tasks/${id}/trace`)).json()) as {
        attempts: Array<{ outcome: string | null }>;
      };
      assert.match(
        trace.attempts[0]?.outcome ?? '',
        /^WORKER_LOST worker .* is down \(container .* died \(exit 137\), seen by monitoring\)$/,
      );
      const task = TaskRecord.parse(await (await fetch(`${dispatcherUrl}/v1/tasks/${id}`)).json());
      assert.ok(task.attempts >= 2);
      // Back to one wait worker, the one that ran the task, for the tests after this one.
      await run('docker', ['rm', '-f', container.id]);
      await dc(['up', '-d', '--no-recreate', '--no-deps', '--scale', 'worker-wait=1', 'worker-wait'], 180_000);
    });

    test('the dispatcher container killed and started again on its volume: every accepted task finishes', async () => {
      const res = await fetch(`${dispatcherUrl}/v1/tasks/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tasks: Array.from({ length: 40 }, () => ({ type: 'wait', payload: { ms: 1500 }, timeoutMs: 120_000 })) }),
      });
      assert.equal(res.status, 202);
      const { ids } = (await res.json()) as { ids: string[] };
      const [dispatcher] = await serviceContainers('dispatcher');
      assert.ok(dispatcher, 'a dispatcher container');
      await run('docker', ['kill', dispatcher.id]);
      await run('docker', ['start', dispatcher.id]);
      await eventually(
        'the dispatcher to answer again',
        async () => ((await fetch(`${dispatcherUrl}/healthz`).catch(() => undefined))?.ok === true ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const records = await Promise.all(
        ids.map(async (id) => TaskRecord.parse(await (await fetch(`${dispatcherUrl}/v1/tasks/${id}?wait=120000`)).json())),
      );
      assert.deepEqual(
        records.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status}`),
        [],
      );
    });

    test('monitoring lists the suite containers with stats and the killed one as exited', async () => {
      interface View {
        id: string;
        service: string | null;
        project: string | null;
        state: string;
        exitCode: number | null;
        cpuPercent: number | null;
        memoryBytes: number | null;
      }
      const views = await eventually(
        'monitoring to report stats and the killed container',
        async () => {
          const res = await fetch(`${monitoringUrl}/api/containers`);
          if (!res.ok) return undefined;
          const { containers } = (await res.json()) as { containers: View[] };
          const running = containers.filter((c) => c.state === 'running');
          const dead = containers.find((c) => c.id === killed?.id);
          const statsReady = running.length >= 10 && running.every((c) => c.memoryBytes !== null && c.cpuPercent !== null);
          return statsReady && dead?.state === 'exited' ? containers : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      assert.ok(
        views.every((c) => c.project === PROJECT),
        "only the suite's containers",
      );
      const services = new Set(views.map((c) => c.service));
      for (const s of ['nameservice', 'dispatcher', 'monitoring', 'worker-reverse', 'worker-image']) assert.ok(services.has(s), s);
      assert.equal(views.find((c) => c.id === killed?.id)?.exitCode, 137);
    });

    test("monitoring runs as 10001 in the Docker socket's group, with no root uid or gid left", async () => {
      const [container] = await serviceContainers('monitoring');
      assert.ok(container);
      await assertUnprivileged(container.id);
    });

    test("the logs panel streams a worker's log lines; the Docker events panel shows the docker kill", async () => {
      const [worker] = await serviceContainers('worker-reverse');
      assert.ok(worker && killed);
      await assertDashboardSeesDocker(monitoringUrl, worker.id, killed.id);
    });

    test("a task's page reads its worker's container, stats and log lines around the attempt from Docker", async () => {
      const task = await httpTask(dispatcherUrl, 'reverse', { text: 'around' });
      assert.equal(task.status, 'succeeded');
      // Around its registration, when it logged that it registered and was ready.
      const record = (await listWorkers(dispatcherUrl)).find((w) => w.name === task.worker)!;
      const res = await fetch(`${monitoringUrl}/api/workers/${encodeURIComponent(task.worker!)}/around?at=${record.registeredAt}`);
      assert.equal(res.status, 200, await res.clone().text());
      const around = (await res.json()) as {
        source: string | null;
        worker: { container: { service: string | null } | null };
        stats: { state: string } | null;
        lines: Array<{ at: number; text: string }>;
      };
      assert.equal(around.source, 'docker');
      assert.equal(around.worker.container?.service, 'worker-reverse');
      assert.equal(around.stats?.state, 'running');
      assert.ok(
        around.lines.some((l) => l.text.includes('registered')),
        JSON.stringify(around.lines.slice(0, 5)),
      );
    });

    test('chaos controls under Compose: the dispatcher has monitoring pause and resume a worker container; a forged request is refused', async () => {
      const status = (await (await fetch(`${dispatcherUrl}/v1/chaos`)).json()) as { enabled: boolean; supervisor: string | null };
      assert.deepEqual(status, { ...status, enabled: true, supervisor: 'docker' });
      const worker = liveOf(await listWorkers(dispatcherUrl), 'reverse')[0]!;
      const container = (await serviceContainers('worker-reverse')).find((c) => c.ipAddresses.includes(worker.host))!;
      assert.ok(container, `the container at ${worker.host}`);
      const chaos = async (action: string, body: unknown): Promise<{ status: number; text: string }> => {
        const res = await fetch(`${dispatcherUrl}/v1/chaos/${action}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: res.status, text: await res.text() };
      };
      const paused = await chaos('pause', { worker: worker.name, forMs: 60_000 });
      assert.equal(paused.status, 200, paused.text);
      assert.match(paused.text, /docker pause/);
      assert.equal((await inspectContainers([container.id]))[0]!.status, 'paused');
      const resumed = await chaos('resume', { worker: worker.name });
      assert.equal(resumed.status, 200, resumed.text);
      assert.equal((await inspectContainers([container.id]))[0]!.status, 'running');
      // Straight to monitoring without the secret's signature: nothing happens.
      const forged = await fetch(`${monitoringUrl}/internal/chaos`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'kill', worker: worker.name, hostname: container.id.slice(0, 12), forMs: 1000 }),
      });
      assert.equal(forged.status, 401);
      assert.equal((await inspectContainers([container.id]))[0]!.status, 'running');
    });

    test('a type of your own with npm dependencies of its own: its image installs them, and its worker serves tasks', async (t) => {
      const image = `${PROJECT}/worker-own-deps:local`;
      const buildArgs = [
        '--build-arg',
        `TASK_DIR=${OWN_DEPS_DIR}`,
        ...(env.NODE_IMAGE ? ['--build-arg', `NODE_IMAGE=${env.NODE_IMAGE}`] : []),
      ];
      await run('docker', ['build', '--target', 'worker-own', ...buildArgs, '-t', image, REPO_ROOT], { env, timeoutMs: BUILD_TIMEOUT_MS });
      // On the project's network, as a service of its own would be.
      const [nameservice] = await serviceContainers('nameservice');
      assert.ok(nameservice);
      const network = nameservice.networks[0]!;
      const { stdout } = await run('docker', [
        'run',
        '-d',
        '--network',
        network,
        '-e',
        `TASKMESH_SECRET=${SECRET}`,
        '-e',
        'TASKMESH_NAMESERVICE_URL=http://nameservice:7100',
        '-e',
        `TASKMESH_WORKER_MODULE=/app/own/${OWN_DEPS_DIR}/duration.mjs`,
        image,
        'duration',
      ]);
      const id = stdout.trim();
      t.after(() => run('docker', ['rm', '-f', id], { allowFailure: true, timeoutMs: 60_000 }));
      await eventually('the duration worker to register', async () => liveOf(await listWorkers(dispatcherUrl), 'duration').length === 1, {
        timeoutMs: 60_000,
        intervalMs: 500,
      }).catch(async (err: Error) => {
        const logs = await run('docker', ['logs', id], { allowFailure: true });
        throw new Error(`${err.message}\n${logs.stdout.slice(-3000)}${logs.stderr.slice(-3000)}`);
      });
      const record = await eventually('a duration task to succeed', async () => {
        const r = await cliTask(dispatcherUrl, 'duration', ['{"text":"2h"}']).catch(() => undefined);
        return r?.status === 'succeeded' ? r : undefined;
      });
      assert.deepEqual(record.result, { ms: 7_200_000 });
    });

    test('stopping a worker drains and deregisters it: exit code 0, not 137', async () => {
      const [container] = await serviceContainers('worker-wait');
      assert.ok(container);
      const record = liveOf(await listWorkers(dispatcherUrl), 'wait').find((w) => container.ipAddresses.includes(w.host));
      assert.ok(record, 'the wait worker is registered');
      // A task in flight when the stop arrives is finished, not dropped.
      const inFlight = httpTask(dispatcherUrl, 'wait', { ms: 2000 });
      await eventually(
        'the wait task to start',
        async () => {
          const w = (await listWorkers(dispatcherUrl)).find((x) => x.name === record.name);
          return w && w.load.inFlight > 0 ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100 },
      );
      const started = Date.now();
      await dc(['stop', 'worker-wait'], 120_000);
      assert.ok(Date.now() - started < 25_000, 'stopped well before the grace period ran out');
      const [state] = await inspectContainers([container.id]);
      assert.deepEqual([state!.status, state!.exitCode], ['exited', 0]);
      // Deregistered, not merely expired: the record is gone at once.
      assert.equal(
        (await listWorkers(dispatcherUrl)).find((w) => w.name === record.name),
        undefined,
      );
      const done = await inFlight;
      assert.equal(done.status, 'succeeded');
      assert.equal(done.worker, record.name);
    });
  });

if (!skip)
  describe('docker stack deploy: docker-stack.yml on a single-node Swarm', () => {
    let env: NodeJS.ProcessEnv;
    let dispatcherUrl: string;
    let monitoringUrl: string;
    const stackContainers = async (service: string) =>
      inspectContainers(
        await containersWith({ 'com.docker.stack.namespace': STACK, 'com.docker.swarm.service.name': `${STACK}_${service}` }),
      );
    let joinedSwarm = false;
    let createdGwBridge = false;

    before(async () => {
      ({ env, dispatcherUrl, monitoringUrl } = await deploymentEnv());
      if (!imagesBuilt) {
        // The stack ignores build:, so the images come from the compose file's build.
        const compose = composeCommand();
        await run(compose[0]!, [...compose.slice(1), '-p', PROJECT, '-f', join(REPO_ROOT, 'docker-compose.yml'), 'build'], {
          env,
          cwd: REPO_ROOT,
          timeoutMs: BUILD_TIMEOUT_MS,
        });
      }
      const state = (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
      if (state !== 'active') {
        const gw = await run('docker', ['network', 'inspect', 'docker_gwbridge'], { allowFailure: true });
        await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
        joinedSwarm = true;
        createdGwBridge = gw.code !== 0;
      }
      await run('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', join(REPO_ROOT, 'docker-stack.yml'), STACK], {
        // A single-node Swarm on this machine, reached on 127.0.0.1: a network the suite trusts.
        env: { ...env, TASKMESH_ALLOW_OPEN_API: '1' },
        cwd: REPO_ROOT,
        timeoutMs: 180_000,
      });
    });

    after(async () => {
      if (!env) return;
      await run('docker', ['stack', 'rm', STACK], { allowFailure: true, timeoutMs: 60_000 });
      // Containers and the network go asynchronously; the volume can only go after them.
      await eventually(
        'the stack to be gone',
        async () => {
          const left = await containersWith({ 'com.docker.stack.namespace': STACK });
          const nets = (
            await run('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`])
          ).stdout.trim();
          return left.length === 0 && nets === '' ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      ).catch((err: Error) => console.log(err.message));
      const volumes = (await run('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`])).stdout
        .split('\n')
        .filter(Boolean);
      if (volumes.length > 0) await run('docker', ['volume', 'rm', ...volumes], { allowFailure: true });
      if (joinedSwarm) await run('docker', ['swarm', 'leave', '--force'], { allowFailure: true, timeoutMs: 60_000 });
      if (createdGwBridge) await run('docker', ['network', 'rm', 'docker_gwbridge'], { allowFailure: true });
    });

    test('every worker type registers and one task of each type succeeds through the published port', async () => {
      await eventually(
        'a live worker of each type behind the published dispatcher port',
        async () => {
          const workers = await listWorkers(dispatcherUrl);
          return TASKS.every((t) => liveOf(workers, t.type).length >= 1) ? true : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1000 },
      ).catch(async (err: Error) => {
        const ps = await run('docker', ['stack', 'ps', '--no-trunc', STACK], { allowFailure: true });
        throw new Error(`${err.message}\n${ps.stdout}${ps.stderr}`);
      });
      await runAllTypes(dispatcherUrl);
    });

    test("the stack's monitoring drops root, and its dashboard shows containers, logs and a docker kill", async () => {
      const [monitoring] = await stackContainers('monitoring');
      assert.ok(monitoring, "the monitoring task's container");
      await assertUnprivileged(monitoring.id);
      const [victim] = await stackContainers('worker-hash');
      const [logged] = await stackContainers('worker-reverse');
      assert.ok(victim && logged);
      await run('docker', ['kill', victim.id]);
      await assertDashboardSeesDocker(monitoringUrl, logged.id, victim.id);
    });
  });
