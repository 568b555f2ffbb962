import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, type RunnerState } from '@taskmesh/shared';
import { DEFAULT_RESTART_POLICY, Supervisor, type ExitInfo, type ServiceSpec } from './supervisor.js';

/** A real child process running a small node program. */
const nodeService = (name: string, program: string, stopTier = 0): ServiceSpec => ({
  name,
  command: process.execPath,
  args: ['-e', program],
  env: { PATH: process.env.PATH },
  stopTier,
});

const fixed = { initialDelayMs: 50, maxDelayMs: 400, factor: 2, jitter: 0 };

/** Resolves once `check` holds for a reported state; bounded by a deadline. */
function waitForState(states: RunnerState[], check: (s: RunnerState) => boolean, timeoutMs = 10_000): Promise<RunnerState> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const hit = states.find(check);
      if (hit) resolve(hit);
      else if (Date.now() > deadline) reject(new Error(`state not reached; last: ${JSON.stringify(states.at(-1))}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

test('a crashing service is restarted with growing delays and its exit code recorded', async (t) => {
  const states: RunnerState[] = [];
  const exits: ExitInfo[] = [];
  const sup = new Supervisor({
    services: [nodeService('crasher', 'process.exit(3)')],
    restartPolicy: fixed,
    stableAfterMs: 60_000,
    onState: (s) => states.push(s),
    onExit: (e) => exits.push(e),
  });
  t.after(() => sup.stop());
  sup.start();
  const s = await waitForState(states, (st) => st.processes[0]!.restarts >= 3);
  assert.equal(s.processes[0]!.lastExitCode, 3);
  assert.deepEqual(
    exits.slice(0, 3).map((e) => e.restartInMs),
    [50, 100, 200],
  );
  await sup.stop();
  assert.equal(sup.state().processes[0]!.status, 'stopped');
});

test('a service that exits with code 2 before it is ready cannot start as configured: it is not restarted', async (t) => {
  const states: RunnerState[] = [];
  const exits: ExitInfo[] = [];
  const sup = new Supervisor({
    services: [nodeService('misconfigured', 'console.error("worker: task module /x.mjs cannot be loaded: no such file"); process.exit(2)')],
    restartPolicy: fixed,
    onState: (s) => states.push(s),
    onExit: (e) => exits.push(e),
  });
  t.after(() => sup.stop());
  sup.start();
  const s = await waitForState(states, (st) => st.processes[0]!.status === 'crashed');
  assert.equal(s.processes[0]!.lastExitCode, 2);
  assert.equal(s.processes[0]!.restarts, 0);
  assert.equal(typeof exits[0]?.pid, 'number');
  assert.deepEqual(
    exits.map(({ pid: _pid, ...rest }) => rest),
    [{ service: 'misconfigured', code: 2, signal: null, restartInMs: undefined, cannotStart: true }],
  );
});

test('a service ready for stableAfterMs before it ends restarts at the first delay again; one that never served does not', async (t) => {
  const exits: ExitInfo[] = [];
  const sup = new Supervisor({
    services: [
      // Ready at once, gone 150 ms later: each run was ready for longer than stableAfterMs.
      nodeService('flaky', 'console.log(JSON.stringify({event:"ready"})); setTimeout(() => process.exit(1), 150)'),
      // Runs as long but never says it is ready: it is not stable, its delays grow.
      nodeService('unready', 'setTimeout(() => process.exit(1), 150)'),
    ],
    restartPolicy: fixed,
    stableAfterMs: 100,
    onExit: (e) => exits.push(e),
  });
  t.after(() => sup.stop());
  sup.start();
  const of = (service: string): ExitInfo[] => exits.filter((e) => e.service === service);
  const deadline = Date.now() + 10_000;
  while ((of('flaky').length < 3 || of('unready').length < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await sup.stop();
  assert.deepEqual(
    of('flaky')
      .slice(0, 3)
      .map((e) => e.restartInMs),
    [50, 50, 50],
  );
  assert.deepEqual(
    of('unready')
      .slice(0, 3)
      .map((e) => e.restartInMs),
    [50, 100, 200],
  );
});

test('repeated SIGKILLs of a service that comes up and serves between them do not grow its restart delay', async (t) => {
  const exits: ExitInfo[] = [];
  const pids: number[] = [];
  const sup = new Supervisor({
    services: [nodeService('killed', 'console.log(JSON.stringify({event:"ready"})); setInterval(() => {}, 1000)')],
    restartPolicy: fixed,
    stableAfterMs: 1000,
    onExit: (e) => exits.push(e),
  });
  t.after(() => sup.stop());
  sup.start();
  // Five kills: three after the service served for longer than stableAfterMs, then two at once.
  for (let kill = 0; kill < 5; kill++) {
    const deadline = Date.now() + 10_000;
    let pid: number | null = null;
    while (Date.now() < deadline) {
      const record = sup.state().processes[0]!;
      if (record.status === 'running' && record.pid !== null && !pids.includes(record.pid)) {
        pid = record.pid;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(pid !== null, `run ${kill + 1} came up`);
    pids.push(pid);
    if (kill < 3) await new Promise((r) => setTimeout(r, 1200));
    process.kill(pid, 'SIGKILL');
    const exited = Date.now() + 10_000;
    while (exits.length <= kill && Date.now() < exited) await new Promise((r) => setTimeout(r, 10));
  }
  await sup.stop();
  assert.deepEqual(
    exits.slice(0, 5).map((e) => [e.signal, e.restartInMs]),
    [
      ['SIGKILL', 50],
      ['SIGKILL', 50],
      ['SIGKILL', 50],
      ['SIGKILL', 100],
      ['SIGKILL', 200],
    ],
  );
});

test('the restart delay is capped at 10 s', () => {
  assert.equal(DEFAULT_RESTART_POLICY.maxDelayMs, 10_000);
  assert.ok(backoffDelay(DEFAULT_RESTART_POLICY, 50, () => 1) <= 12_000);
});

test('the ready line marks a service running and is reported with its fields', async (t) => {
  const states: RunnerState[] = [];
  const ready: Array<[string, Record<string, unknown>]> = [];
  const lines: string[] = [];
  const sup = new Supervisor({
    services: [
      nodeService('svc', 'console.log("hello"); console.log(JSON.stringify({event:"ready",http:1234})); setInterval(()=>{}, 1000)'),
    ],
    onState: (s) => states.push(s),
    onReady: (name, line) => ready.push([name, line]),
    onLine: (_name, line) => lines.push(line),
  });
  t.after(() => sup.stop());
  sup.start();
  const s = await waitForState(states, (st) => st.processes[0]!.status === 'running');
  assert.equal(typeof s.processes[0]!.pid, 'number');
  assert.deepEqual(ready, [['svc', { event: 'ready', http: 1234 }]]);
  assert.equal(lines[0], 'hello');
});

test('stop() stops higher tiers first and SIGKILLs a child that ignores SIGTERM', async () => {
  const order: string[] = [];
  let readyCount = 0;
  let allReady!: () => void;
  const bothReady = new Promise<void>((resolve) => (allReady = resolve));
  const sup = new Supervisor({
    services: [
      nodeService(
        'base',
        'process.on("SIGTERM", () => process.exit(0)); console.log(JSON.stringify({event:"ready"})); setInterval(()=>{}, 1000)',
        0,
      ),
      nodeService(
        'stubborn',
        'process.on("SIGTERM", () => {}); console.log(JSON.stringify({event:"ready"})); setInterval(()=>{}, 1000)',
        1,
      ),
    ],
    stopGraceMs: 300,
    onExit: (e) => order.push(`${e.service}:${e.signal ?? e.code}`),
    onReady: () => {
      if (++readyCount === 2) allReady();
    },
  });
  sup.start();
  await bothReady;
  const started = Date.now();
  await sup.stop();
  assert.ok(Date.now() - started >= 250, 'waited for the grace period');
  assert.deepEqual(order, ['stubborn:SIGKILL', 'base:0']);
  const st = sup.state();
  assert.deepEqual(
    st.processes.map((p) => [p.status, p.lastExitCode]),
    [
      ['stopped', 0],
      ['stopped', 137],
    ],
  );
});

test('duplicate service names are rejected', () => {
  assert.throws(() => new Supervisor({ services: [nodeService('a', ''), nodeService('a', '')] }), /duplicate service name: a/);
});
