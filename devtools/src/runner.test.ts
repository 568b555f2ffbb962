import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { RunnerState, TaskRecord } from '@taskmesh/shared';
import { startRunner as startRunnerProcess } from '@taskmesh/shared/testing';
import { freePort, eventually } from './test-support.js';

/**
 * `npm start` end to end: the real runner process with its real services on free ports,
 * a small workers.json, and the state file it writes.
 */
const RUNNER = fileURLToPath(new URL('./runner-main.js', import.meta.url));

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('npm start runs the suite, restarts a killed worker and stops cleanly on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const workersFile = join(dir, 'workers.json');
  await writeFile(workersFile, JSON.stringify({ workers: { reverse: { replicas: 1 }, upper: { replicas: 2, concurrency: 2 } } }));
  const stateFile = join(dir, 'state.json');
  const [ns, dp, mon] = [await freePort(), await freePort(), await freePort()];
  const runner = spawn(process.execPath, [RUNNER], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // Unset: the runner makes a secret of its own for the services it starts.
      TASKMESH_SECRET: '',
      TASKMESH_NAMESERVICE_PORT: String(ns),
      TASKMESH_DISPATCHER_PORT: String(dp),
      TASKMESH_MONITORING_PORT: String(mon),
      TASKMESH_WORKERS_FILE: workersFile,
      TASKMESH_RUNNER_STATE_FILE: stateFile,
      TASKMESH_REGISTRY_FILE: join(dir, 'registry.json'),
      TASKMESH_JOURNAL_PATH: join(dir, 'dispatcher-journal'),
      TASKMESH_RUNNER_STOP_GRACE_MS: '8000',
    },
  });
  const exited = once(runner, 'exit');
  const output: string[] = [];
  let stderr = '';
  runner.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines = createInterface({ input: runner.stdout });
  lines.on('line', (l) => output.push(l));
  t.after(() => {
    if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
  });
  const dump = (): string => `${output.slice(-40).join('\n')}\n${stderr}`;

  const allReady = await eventually('the runner to report all services ready', () => output.find((l) => /all \d+ services ready/.test(l)), {
    timeoutMs: 45_000,
  }).catch((err: Error) => assert.fail(`${err.message}\n${dump()}`));
  assert.match(allReady, /^runner\s+\| /);
  assert.ok(
    output.some((l) => l.includes(`API:       http://127.0.0.1:${dp}`)),
    dump(),
  );
  // Every child's output is prefixed with its padded name and JSON lines are rendered readably.
  assert.ok(
    output.some((l) => /^worker-upper-2\s*\| info\s+ready/.test(l)),
    dump(),
  );

  // A task through the dispatcher the runner started.
  const res = await fetch(`http://127.0.0.1:${dp}/v1/tasks?wait=10000`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'reverse', payload: { text: 'hello' } }),
  });
  assert.equal(res.status, 200);
  const task = TaskRecord.parse(await res.json());
  assert.equal(task.status, 'succeeded');
  assert.deepEqual(task.result, { text: 'olleh' });

  // SIGKILL a worker: the runner restarts it and the state file counts the restart.
  const readState = async (): Promise<RunnerState> => RunnerState.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  const before = await readState();
  const names = before.processes.map((p) => p.name).sort();
  const expected = ['dispatcher', 'nameservice', 'worker-reverse', 'worker-upper-1', 'worker-upper-2'];
  assert.deepEqual(
    names.filter((n) => n !== 'monitoring'),
    expected,
  );
  assert.equal(before.runnerPid, runner.pid);
  const victim = before.processes.find((p) => p.name === 'worker-reverse')!;
  assert.equal(victim.status, 'running');
  process.kill(victim.pid!, 'SIGKILL');
  const after = await eventually(
    'worker-reverse to be restarted',
    async () => {
      const p = (await readState()).processes.find((x) => x.name === 'worker-reverse')!;
      return p.restarts >= 1 && p.status === 'running' ? p : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.notEqual(after.pid, victim.pid);
  assert.equal(after.lastExitCode, 137);

  // SIGTERM to the runner stops every child and exits 0.
  const pids = (await readState()).processes.map((p) => p.pid).filter((p): p is number => p !== null);
  runner.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0, dump());
  for (const pid of pids) assert.equal(isAlive(pid), false, `child ${pid} still running`);
  const final = await readState();
  assert.ok(
    final.processes.every((p) => p.status === 'stopped' && p.pid === null),
    JSON.stringify(final),
  );
});

test('the runner refuses a bad workers.json and names the field', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const workersFile = join(dir, 'workers.json');
  await writeFile(workersFile, JSON.stringify({ workers: { reverse: { replicas: 1, concurrency: 'many' } } }));
  const run = spawnSync(process.execPath, [RUNNER], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, TASKMESH_WORKERS_FILE: workersFile },
  });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /workers\.reverse\.concurrency/);
});

/** `npm start` in `dir` with this workers.json, on free ports; stopped (SIGTERM) when the test ends, then `dir` removed. */
async function startRunner(
  t: { after(fn: () => unknown): void },
  dir: string,
  workers: unknown,
  env: NodeJS.ProcessEnv = {},
): Promise<{ runner: ChildProcess; output: string[]; ports: { ns: number; dp: number; mon: number }; stateFile: string }> {
  const run = await startRunnerProcess({ dir, workers, env });
  t.after(async () => {
    await run.stop();
    // Once its services are gone nothing writes there any more.
    await rm(dir, { recursive: true, force: true });
  });
  const { nameservice: ns, dispatcher: dp, monitoring: mon } = run.ports;
  return { runner: run.proc, output: run.output, ports: { ns, dp, mon }, stateFile: run.stateFile };
}

test('a runner killed with SIGKILL leaves no service behind: each drains and exits on its own', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  const { runner, output, ports, stateFile } = await startRunner(t, dir, { reverse: { replicas: 1 } });
  const { ns, dp } = ports;
  await eventually('all services ready', () => output.some((l) => /all \d+ services ready/.test(l)), { timeoutMs: 45_000 });
  const state = RunnerState.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  const pids = state.processes.map((p) => p.pid).filter((p): p is number => p !== null);
  assert.ok(pids.length >= 3, JSON.stringify(state.processes));
  runner.kill('SIGKILL');
  await once(runner, 'exit');
  await eventually('every service to have exited', () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 20_000, intervalMs: 100 }).catch(
    () => assert.fail(`still running: ${pids.filter(isAlive).join(', ')}`),
  );
  // Their ports are free again: a new run can start.
  const { takenPorts } = await import('./port-check.js');
  assert.deepEqual(await takenPorts('127.0.0.1', { nameservice: ns, dispatcher: dp }), []);
});

test('a port already taken stops npm start at once, naming the port and the process holding it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { createServer } = await import('node:net');
  const holder = createServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const taken = (holder.address() as { port: number }).port;
  const run = spawnSync(process.execPath, [RUNNER], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      ...process.env,
      TASKMESH_NAMESERVICE_PORT: String(await freePort()),
      TASKMESH_DISPATCHER_PORT: String(taken),
      TASKMESH_MONITORING_PORT: String(await freePort()),
      TASKMESH_RUNNER_STATE_FILE: join(dir, 'state.json'),
    },
  });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`port ${taken} \\(dispatcher\\) is already in use by pid ${process.pid} `));
  assert.match(run.stderr, /TASKMESH_DISPATCHER_PORT/);
  assert.doesNotMatch(run.stdout, /starting/);
});

test('npm start runs a type of your own named in workers.json: its module, outside taskmesh, answers through the API', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-own-'));
  await writeFile(
    join(dir, 'wordcount.mjs'),
    [
      "import { defineTaskType, z } from '@taskmesh/worker';",
      'export default defineTaskType({',
      "  name: 'wordcount',",
      "  description: 'Counts the words of a text',",
      '  payload: z.object({ text: z.string().max(100000) }),',
      '  handle: ({ text }) => ({ words: text.split(/\\s+/).filter(Boolean).length }),',
      '});',
    ].join('\n'),
  );
  const { output, ports } = await startRunner(t, dir, { wordcount: { module: './wordcount.mjs', replicas: 1 } });
  const { dp } = ports;
  await eventually('all services ready', () => output.some((l) => /all \d+ services ready/.test(l)), { timeoutMs: 45_000 }).catch(() =>
    assert.fail(output.slice(-30).join('\n')),
  );
  const answer = await eventually(
    'wordcount to be known and answered',
    async () => {
      const res = await fetch(`http://127.0.0.1:${dp}/v1/tasks?wait=10000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'wordcount', payload: { text: 'one two three' } }),
      });
      return res.status === 200 ? ((await res.json()) as { status: string; result: unknown }) : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  assert.equal(answer.status, 'succeeded');
  assert.deepEqual(answer.result, { words: 3 });
});

test('npm start with a module that does not load names the service and the problem, and does not restart it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-bad-'));
  await writeFile(join(dir, 'broken.mjs'), "export default { name: 'broken' };\n");
  const { output } = await startRunner(t, dir, { broken: { module: './broken.mjs' }, reverse: { replicas: 1 } });
  await eventually(
    'the runner to give up on worker-broken',
    () => output.some((l) => /worker-broken cannot start as configured \(code 2/.test(l)),
    {
      timeoutMs: 30_000,
    },
  ).catch(() => assert.fail(output.join('\n')));
  assert.ok(
    output.some((l) => /^worker-broken\s*\| .*broken\.mjs exports no task type/.test(l)),
    output.join('\n'),
  );
  assert.equal(output.filter((l) => /worker-broken exited/.test(l)).length, 0, 'not restarted');
});

test('a worker SIGKILLed mid-task under npm start: the runner reports it down and its task finishes elsewhere within a second plus its run time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  const { output, ports } = await startRunner(t, dir, { wait: { replicas: 2, concurrency: 2 } });
  const api = `http://127.0.0.1:${ports.dp}`;
  await eventually('all services ready', () => output.some((l) => /all \d+ services ready/.test(l)), { timeoutMs: 45_000 });
  // Both workers known to the dispatcher, so the task has somewhere to go.
  await eventually(
    'two wait workers',
    async () => ((await (await fetch(`${api}/v1/workers`)).json()) as { workers: unknown[] }).workers.length === 2,
    { timeoutMs: 15_000 },
  );
  const runMs = 1500;
  const submitted = await fetch(`${api}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'wait', payload: { ms: runMs } }),
  });
  assert.equal(submitted.status, 202);
  const { id } = (await submitted.json()) as { id: string };
  const running = await eventually(
    'the task to run at a worker',
    async () => {
      const task = TaskRecord.parse(await (await fetch(`${api}/v1/tasks/${id}`)).json());
      return task.status === 'running' ? task : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  const holder = (await (await fetch(`http://127.0.0.1:${ports.ns}/v1/workers/${running.worker}`)).json()) as {
    worker: { pid: number; meta?: Record<string, string> };
  };
  const killedAt = Date.now();
  process.kill(holder.worker.pid, 'SIGKILL');

  const done = TaskRecord.parse(await (await fetch(`${api}/v1/tasks/${id}?wait=15000`)).json());
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.notEqual(done.worker, running.worker);
  // The keep-alive timeout alone would take 3.5 s before the second attempt even starts.
  const afterKill = done.finishedAt! - killedAt;
  assert.ok(afterKill < 1000 + runMs + 1000, `finished ${afterKill} ms after the kill`);
  const trace = (await (await fetch(`${api}/v1/tasks/${id}/trace`)).json()) as {
    attempts: Array<{ worker: string; outcome: string | null }>;
  };
  assert.equal(trace.attempts[0]?.worker, running.worker);
  // What went wrong, in the trace: who saw the worker go, and how.
  assert.match(
    trace.attempts[0]?.outcome ?? '',
    /^WORKER_LOST worker .* is down \(worker-wait-\d \(pid \d+\) was killed by SIGKILL, seen by the runner\)$/,
  );
  const stats = (await (await fetch(`${api}/v1/stats`)).json()) as {
    tasksFailedOver: number;
    workersDown: number;
    registryWatching: boolean;
  };
  assert.equal(stats.registryWatching, true);
  assert.ok(stats.tasksFailedOver >= 1, JSON.stringify(stats));

  // The task page's log lines for the killed worker are its own process's, not those of the one
  // the runner started in its place (same service, same log file, another pid).
  const service = holder.worker.meta?.service;
  assert.ok(service !== undefined, 'the worker registered its runner service');
  const replacement = await eventually(
    'the killed worker replaced',
    async () => {
      const { workers } = (await (await fetch(`http://127.0.0.1:${ports.ns}/v1/workers`)).json()) as {
        workers: Array<{ name: string; state: string; meta?: Record<string, string> }>;
      };
      return workers.find((w) => w.state === 'live' && w.name !== running.worker && w.meta?.service === service);
    },
    { timeoutMs: 20_000 },
  );
  const around = (await (await fetch(`http://127.0.0.1:${ports.mon}/api/workers/${running.worker}/around?at=${killedAt}`)).json()) as {
    source: string;
    lines: Array<{ text: string }>;
  };
  assert.equal(around.source, 'runner');
  assert.ok(
    around.lines.some((l) => l.text.includes(running.worker!)),
    'its own lines',
  );
  assert.deepEqual(
    around.lines.filter((l) => l.text.includes(replacement.name)).map((l) => l.text),
    [],
    'none of its replacement',
  );
});

test('chaos controls under npm start: the runner pauses and resumes a worker it started, kills one, and the dispatcher drops a share of datagrams', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-'));
  const { output, ports } = await startRunner(t, dir, { reverse: { replicas: 1 }, wait: { replicas: 2 } }, { TASKMESH_CHAOS: '1' });
  const api = `http://127.0.0.1:${ports.dp}`;
  await eventually('all services ready', () => output.some((l) => /all \d+ services ready/.test(l)), { timeoutMs: 45_000 });
  const chaos = async (action: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${api}/v1/chaos/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const workers = async (): Promise<
    Array<{ name: string; type: string; pid: number; state: string; link: { retransmitRatio: number } | null }>
  > => ((await (await fetch(`${api}/v1/workers`)).json()) as { workers: never[] }).workers;
  await eventually('three workers', async () => (await workers()).length === 3, { timeoutMs: 15_000 });
  const status = (await (await fetch(`${api}/v1/chaos`)).json()) as { enabled: boolean; supervisor: string | null };
  assert.deepEqual({ enabled: status.enabled, supervisor: status.supervisor }, { enabled: true, supervisor: 'runner' });
  const procState = async (pid: number): Promise<string> => (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]![0]!;

  // Pause: SIGSTOP, until resumed; resume: SIGCONT.
  const [waitA] = (await workers()).filter((w) => w.type === 'wait');
  const paused = await chaos('pause', { worker: waitA!.name, forMs: 60_000 });
  assert.equal(paused.status, 200, JSON.stringify(paused.body));
  assert.match(String(paused.body.done), /paused \(SIGSTOP\)/);
  await eventually('the worker to be stopped', async () => (await procState(waitA!.pid)) === 'T', { timeoutMs: 2000, intervalMs: 10 });
  const listed = (await (await fetch(`${api}/v1/chaos`)).json()) as { faults: Array<{ worker: string; kind: string }> };
  assert.deepEqual(
    listed.faults.map((f) => [f.worker, f.kind]),
    [[waitA!.name, 'pause']],
  );
  assert.equal((await chaos('resume', { worker: waitA!.name })).status, 200);
  assert.notEqual(await procState(waitA!.pid), 'T');
  // A pause ends by itself after forMs.
  // The CLI's `taskmesh chaos pause <worker> --for 1s`.
  const cli = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('../../client/dist/main.js', import.meta.url)), 'chaos', 'pause', waitA!.name, '--for', '1s'],
    {
      encoding: 'utf8',
      env: { ...process.env, TASKMESH_DISPATCHER_URL: api },
    },
  );
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /paused \(SIGSTOP\) for 1000 ms by the runner until /);
  await eventually('the worker to be stopped again', async () => (await procState(waitA!.pid)) === 'T', { timeoutMs: 900, intervalMs: 10 });
  await eventually('the pause to end by itself', async () => (await procState(waitA!.pid)) !== 'T', { timeoutMs: 5000, intervalMs: 50 });

  // Loss: the dispatcher drops half the datagrams to and from the reverse worker; tasks still
  // succeed through retransmissions, and the link shows them.
  const reverse = (await workers()).find((w) => w.type === 'reverse')!;
  const lossy = await chaos('loss', { worker: reverse.name, percent: 30, forMs: 300_000 });
  assert.equal(lossy.status, 200, JSON.stringify(lossy.body));
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${api}/v1/tasks?wait=20000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'reverse', payload: { text: `chaos ${i}` } }),
    });
    assert.equal(TaskRecord.parse(await res.json()).status, 'succeeded');
  }
  const link = (await workers()).find((w) => w.name === reverse.name)!.link!;
  assert.ok(link.retransmitRatio > 0, JSON.stringify(link));
  const faults = (await (await fetch(`${api}/v1/chaos`)).json()) as { faults: Array<{ kind: string; dropped: number }> };
  assert.ok(
    (faults.faults.find((f) => f.kind === 'loss')?.dropped ?? 0) > 0,
    `${JSON.stringify(faults)}\n${output
      .filter((l) => !l.includes('debug'))
      .slice(-30)
      .join('\n')}`,
  );

  // Kill: SIGKILL by the runner, which restarts it; someone else's pid is refused.
  const [, waitB] = (await workers()).filter((w) => w.type === 'wait');
  const killed = await chaos('kill', { worker: waitB!.name });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  await eventually('the killed worker to be gone', () => !isAlive(waitB!.pid), { timeoutMs: 5000, intervalMs: 20 });
  assert.equal((await chaos('kill', { worker: 'no-such-worker' })).status, 404);
  const bad = await chaos('loss', { worker: reverse.name, percent: 500 });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.body), /percent/);
});
