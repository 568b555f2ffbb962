import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { ApiClient } from './api-client.js';
import { CompletionTracker } from './task-waiter.js';

/** The CLI runs as a real child process against a real suite: dispatcher, nameservice, six workers. */
const CLI = resolve(fileURLToPath(import.meta.url), '../main.js');
const RUN_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with each stderr chunk as it arrives, for commands that announce readiness there. */
  onStderr?: (text: string) => void;
}

function runCli(args: string[], options: RunOptions = {}): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, TASKMESH_DISPATCHER_URL: '', TASKMESH_API_TOKEN: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    options.onStderr?.(stderr);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return once(child, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout, stderr };
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('taskmesh CLI against a running suite', () => {
  let suite: LocalSuite;
  let dir: string;
  let d: string[];

  before(async () => {
    // `resize` is a type the dispatcher accepts with no shorthand in the CLI (a user's own).
    suite = await startLocalSuite({
      workers: ['reverse', 'upper', 'hash', 'sum', 'wait', 'image'],
      dispatcherEnv: { TASKMESH_TASK_TYPES: 'reverse,hash,sum,upper,wait,image,resize' },
    });
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-cli-'));
    d = ['--dispatcher', suite.dispatcherUrl!];
    // Workers register with the nameservice on their own schedule; wait until the dispatcher lists all six.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await runCli([...d, 'workers', '--json']);
      const types =
        r.code === 0 ? new Set((JSON.parse(r.stdout) as { workers: Array<{ type: string }> }).workers.map((w) => w.type)) : new Set();
      if (types.size >= 6) break;
      if (Date.now() > deadline) throw new Error(`workers not all registered: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  });

  after(async () => {
    await suite?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("submit --wait prints each type's result readably", async () => {
    const cases: Array<[string[], string]> = [
      [['reverse', 'hello'], 'olleh'],
      [['reverse', '{"text":"hi there"}'], 'ereht ih'],
      [['upper', 'hello', 'world'], 'HELLO WORLD'],
      [['hash', 'hello'], createHash('sha256').update('hello').digest('hex')],
      [['hash', 'hello', '--algorithm', 'sha1', '--encoding', 'base64'], createHash('sha1').update('hello').digest('base64')],
      [['sum', '1', '2', '3'], '6'],
      [['sum', '9007199254740993', '1', '-2'], '9007199254740992'],
      [['wait', '20'], 'waited'],
    ];
    await Promise.all(
      cases.map(async ([args, expected]) => {
        const r = await runCli([...d, 'submit', ...args, '--wait']);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
        if (expected === 'waited') assert.match(r.stdout, /^waited \d+ ms\n$/);
        else assert.equal(r.stdout, `${expected}\n`, args.join(' '));
      }),
    );
  });

  test("escape sequences in someone else's result are shown escaped, not sent to the terminal; --raw prints them as they came", async () => {
    // A result that would retitle the terminal and clear the screen, submitted through the API as anyone could.
    const hostile = '\u001b]0;owned\u0007\u001b[2J\u009b31m\u202egnp.exe\r';
    const submitted = await fetch(`${suite.dispatcherUrl!}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'upper', payload: { text: hostile } }),
    });
    const { id } = (await submitted.json()) as { id: string };
    const shown = await runCli([...d, 'wait', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout, '\\x1b]0;OWNED\\x07\\x1b[2J\\x9b31M\\u202eGNP.EXE\\x0d\n');
    assert.doesNotMatch(shown.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    const raw = await runCli([...d, '--raw', 'wait', id]);
    assert.equal(raw.stdout, `${hostile.toUpperCase()}\n`);
  });

  test('submit image --out writes a real PNG of the asked size', async () => {
    const out = join(dir, 'frame.png');
    const r = await runCli([...d, 'submit', 'image', '--text', 'hi', '--width', '64', '--height', '48', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^png image 64x48, \d+ bytes → .*frame\.png\n$/);
    const png = await readFile(out);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.readUInt32BE(16), 64);
    assert.equal(png.readUInt32BE(20), 48);
  });

  test('submit without --wait prints the id; status, wait and --json follow it', async () => {
    const sub = await runCli([...d, 'submit', 'upper', 'abc']);
    assert.equal(sub.code, 0, sub.stderr);
    const id = sub.stdout.trim();
    assert.match(id, /^\S+$/);
    const waited = await runCli([...d, 'wait', id]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, 'ABC\n');
    const status = await runCli([...d, 'status', id]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^id: +${id}$`, 'm'));
    assert.match(status.stdout, /^status: +succeeded$/m);
    assert.match(status.stdout, /^result: +ABC$/m);
    const json = await runCli([...d, 'status', id, '--json']);
    assert.deepEqual((JSON.parse(json.stdout) as { result: unknown }).result, { text: 'ABC' });
  });

  test('cancel stops a running wait task; waiting on it then exits 1', async () => {
    const sub = await runCli([...d, 'submit', 'wait', '30000']);
    const id = sub.stdout.trim();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = await runCli([...d, 'status', id, '--json']);
      if ((JSON.parse(s.stdout) as { status: string }).status === 'running') break;
      assert.ok(Date.now() < deadline, 'the wait task never started running');
      await new Promise((res) => setTimeout(res, 50));
    }
    const cancel = await runCli([...d, 'cancel', id]);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `${id} cancelled\n`);
    const waited = await runCli([...d, 'wait', id]);
    assert.equal(waited.code, 1);
    assert.match(waited.stderr, /^cancelled:/);
    // A cancelled task can run again; cancelled once more so it does not hold a slot.
    const retried = await runCli([...d, 'retry', id]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`^${id} (queued|running)\n$`));
    assert.equal((await runCli([...d, 'cancel', id])).code, 0);
  });

  test('workers lists the six types with address, state and load', async () => {
    const r = await runCli([...d, 'workers']);
    assert.equal(r.code, 0, r.stderr);
    for (const type of ['reverse', 'upper', 'hash', 'sum', 'wait', 'image']) {
      assert.match(r.stdout, new RegExp(`│ ${type} +│ 127\\.0\\.0\\.1:\\d+ +│ live +│ [█░]{10} +\\d+% │`), `${type} row in\n${r.stdout}`);
    }
    assert.match(r.stdout, /heartbeat/);
  });

  test('batch --wait submits a JSON-lines file and summarises', async () => {
    const file = join(dir, 'tasks.jsonl');
    await writeFile(
      file,
      [
        '{"type":"reverse","payload":{"text":"abc"}}',
        '# comment',
        '{"type":"upper","payload":{"text":"abc"}}',
        '{"type":"sum","payload":{"numbers":[1,2]}}',
        '',
        '{"type":"hash","payload":{"text":"x"},"maxAttempts":1}',
      ].join('\n'),
    );
    const r = await runCli([...d, 'batch', file, '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^submitted 4, succeeded 4, failed 0 in /);
    const json = await runCli([...d, 'batch', file, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { ids: string[] }).ids.length, 4);
  });

  test('bench runs both phases against the suite and reports them as JSON', async () => {
    const r = await runCli([
      ...d,
      'bench',
      '--tasks',
      '1200',
      '--batch',
      '100',
      '--concurrency',
      '3',
      '--window',
      '250',
      '--sequential',
      '40',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      batch: { tasks: number; succeeded: number; window: number; tasksPerSecond: number; throttled: number };
      latency: { tasks: number; succeeded: number; concurrency: number; latencyMs: { p50: number; p99: number } };
      failures: number;
      datagrams: { sent: number; received: number } | null;
      targets: Array<{ name: string; met: boolean }>;
    };
    assert.deepEqual([report.batch.tasks, report.batch.succeeded, report.batch.window, report.batch.throttled], [1200, 1200, 250, 0]);
    assert.ok(report.batch.tasksPerSecond > 0);
    assert.deepEqual(
      [report.latency.tasks, report.latency.succeeded, report.latency.concurrency, report.failures],
      [40, 40, 1, 0],
      'one task at a time by default',
    );
    assert.ok(report.latency.latencyMs.p50 > 0 && report.latency.latencyMs.p99 >= report.latency.latencyMs.p50);
    assert.ok(report.datagrams !== null && report.datagrams.sent > 0 && report.datagrams.received > 0, JSON.stringify(report.datagrams));
    assert.deepEqual(
      report.targets.map((t) => t.name),
      ['batch throughput', 'dispatcher CPU per task', 'submit-and-wait p50', 'submit-and-wait p99', 'failed tasks'],
    );
  });

  test('a completion tracker releases a windowed submitter only once enough tasks have ended', async () => {
    const api = new ApiClient({ baseUrl: suite.dispatcherUrl! });
    const tracker = new CompletionTracker(api, 'upper');
    await tracker.start();
    try {
      let released = false;
      const two = tracker.untilEnded(2).then(() => (released = true));
      const [first] = await api.submitBatch([{ type: 'upper', payload: { text: 'one' } }]);
      await tracker.waitFor([first!]);
      assert.equal(released, false, 'one ended task does not release a wait for two');
      await api.submitBatch([{ type: 'upper', payload: { text: 'two' } }]);
      await two;
      assert.equal(released, true);
      await tracker.untilEnded(1); // already reached: resolves at once
    } finally {
      await tracker.close();
      api.close();
    }
  });

  test('batch names bad lines and sends nothing; a failing task makes it exit 1', async () => {
    const bad = join(dir, 'bad.jsonl');
    const marker = 'batch-marker-never-sent';
    await writeFile(bad, `{"type":"reverse","payload":{"text":"${marker}"}}\n{"type":\n{"type":"Upper"}\n`);
    const r = await runCli([...d, 'batch', bad, '--wait']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.jsonl: 2 bad lines, nothing sent: line 2: not valid JSON.*; line 3: type: /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const listed = await runCli([...d, 'list', '--type', 'reverse', '--json']);
    assert.ok(!listed.stdout.includes(marker), 'nothing from the bad file was submitted');

    const failing = join(dir, 'failing.jsonl');
    await writeFile(
      failing,
      '{"type":"reverse","payload":{"text":"ok"}}\n{"type":"wait","payload":{"ms":5000},"timeoutMs":50,"maxAttempts":1}\n',
    );
    const f = await runCli([...d, 'batch', failing, '--wait']);
    assert.equal(f.code, 1, f.stderr);
    assert.match(f.stdout, /^submitted 2, succeeded 1, failed 1 in /);
  });

  test('watch --count prints the events of a submitted task and exits', async () => {
    let announce: () => void = () => undefined;
    const ready = new Promise<void>((res) => (announce = res));
    const watching = runCli([...d, 'watch', '--type', 'reverse', '--count', '3', '--json'], {
      onStderr: (text) => {
        if (text.includes('watching')) announce();
      },
    });
    await ready;
    const sub = await runCli([...d, 'submit', 'reverse', 'watched']);
    const id = sub.stdout.trim();
    const r = await watching;
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { taskId: string; event: string });
    assert.equal(events.length, 3);
    assert.ok(
      events.every((e) => e.taskId === id),
      r.stdout,
    );
    assert.equal(events[0]!.event, 'submitted');
    assert.deepEqual(events.map((e) => e.event).slice(-1), ['succeeded']);
  });

  test('a failed task prints "failed: CODE message" and exits 1', async () => {
    const r = await runCli([...d, 'submit', 'wait', '5000', '--timeout', '50', '--max-attempts', '1', '--wait']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^failed: TIMEOUT .+\n$/);
    assert.equal(r.stdout, '');
    const listed = await runCli([...d, 'list', '--status', 'failed', '--type', 'wait']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /wait +│ failed/);
  });

  test("a 4xx answer prints the server's code and message and exits 4", async () => {
    const r = await runCli([...d, 'status', 'no-such-task']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^NOT_FOUND: .*no-such-task.*\n$/);
    // A payload the type refuses is refused by the dispatcher at submit.
    const invalid = await runCli([...d, 'submit', 'wait', '{"ms":-5}', '--wait']);
    assert.equal(invalid.code, 4);
    assert.match(invalid.stderr, /^INVALID_PAYLOAD: invalid wait payload: ms: /);
  });

  test('bad arguments are usage errors: exit 2, one line, nothing sent', async () => {
    for (const args of [
      ['submit', 'sum', '1', 'x'],
      ['submit'],
      ['frobnicate'],
      ['submit', 'reverse', 'x', '--timeout', 'soon'],
      ['list', '--status', 'lost'],
    ]) {
      const r = await runCli([...d, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
    const sum = await runCli([...d, 'submit', 'sum', '1', 'x']);
    assert.equal(sum.stderr, 'sum: "x" is not a number\n');
  });

  test('submit --trace sends a traceparent of a new trace, prints its id, and the task keeps it', async () => {
    const r = await runCli([...d, 'submit', 'reverse', 'traced', '--wait', '--json', '--trace']);
    assert.equal(r.code, 0, r.stderr);
    const traceId = /^trace ([0-9a-f]{32})$/m.exec(r.stderr)?.[1];
    assert.ok(traceId, r.stderr);
    const { id } = JSON.parse(r.stdout) as { id: string };
    const trace = (await (await fetch(`${suite.dispatcherUrl}/v1/tasks/${id}/trace`)).json()) as { traceId: string | null };
    assert.equal(trace.traceId, traceId);
  });

  test('chaos: usage errors name the option; a dispatcher without TASKMESH_CHAOS=1 refuses, and the CLI says so', async () => {
    const noPercent = await runCli([...d, 'chaos', 'loss', 'some-worker']);
    assert.equal(noPercent.code, 2);
    assert.match(noPercent.stderr, /--percent/);
    const badFor = await runCli([...d, 'chaos', 'pause', 'some-worker', '--for', 'soon']);
    assert.notEqual(badFor.code, 0);
    assert.match(badFor.stderr, /"soon" is not a duration/);
    const badAction = await runCli([...d, 'chaos', 'explode', 'some-worker']);
    assert.equal(badAction.code, 2);
    assert.match(badAction.stderr, /not kill, pause, resume, loss or status/);
    const worker = (JSON.parse((await runCli([...d, 'workers', '--json'])).stdout) as { workers: Array<{ name: string }> }).workers[0]!
      .name;
    const refused = await runCli([...d, 'chaos', 'kill', worker]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /TASKMESH_CHAOS=1/);
    const status = await runCli([...d, 'chaos', 'status']);
    assert.equal(status.stdout, 'chaos controls off\n');
  });

  test('an unknown type is named with the types the dispatcher knows; a known one without a shorthand asks for JSON', async () => {
    const nope = await runCli([...d, 'submit', 'nope', 'x']);
    assert.equal(nope.code, 2);
    assert.equal(nope.stderr, 'unknown task type "nope"; known types: reverse, hash, sum, upper, wait, image, resize\n');
    const resize = await runCli([...d, 'submit', 'resize', 'big']);
    assert.equal(resize.code, 2);
    assert.match(resize.stderr, /^no shorthand for task type "resize": give the payload as JSON/);
    assert.equal(resize.stdout, '');
  });
});

describe('taskmesh CLI without a dispatcher', () => {
  test('an unreachable dispatcher: exit 3 and one line naming it', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli(['submit', 'reverse', 'hi', '--wait'], { env: { TASKMESH_DISPATCHER_URL: url } });
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `cannot reach the dispatcher at ${url}: connection refused\n`);
    const w = await runCli(['--dispatcher', url, 'watch']);
    assert.equal(w.code, 3);
    assert.equal(w.stderr, `cannot reach the dispatcher at ${url}: connection refused\n`);
    const verbose = await runCli(['--dispatcher', url, '--verbose', 'workers']);
    assert.equal(verbose.code, 3);
    assert.match(verbose.stderr, /\n\s+at /, '--verbose adds the stack');
  });
});

describe('taskmesh CLI with an API token', () => {
  let suite: LocalSuite;
  before(async () => {
    suite = await startLocalSuite({ workers: [], dispatcherEnv: { TASKMESH_API_TOKEN: 'cli-test-token' } });
  });
  after(async () => {
    await suite?.stop();
  });

  test('the token comes from --token or TASKMESH_API_TOKEN; without it the dispatcher refuses', async () => {
    const d = ['--dispatcher', suite.dispatcherUrl!];
    const refused = await runCli([...d, 'workers']);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /^UNAUTHORIZED: /);
    const watchRefused = await runCli([...d, 'watch']);
    assert.equal(watchRefused.code, 4, watchRefused.stderr);
    assert.match(watchRefused.stderr, /^UNAUTHORIZED: /);
    const flag = await runCli([...d, '--token', 'cli-test-token', 'workers']);
    assert.equal(flag.code, 0, flag.stderr);
    const env = await runCli([...d, 'workers', '--json'], { env: { TASKMESH_API_TOKEN: 'cli-test-token' } });
    assert.equal(env.code, 0, env.stderr);
    assert.deepEqual(JSON.parse(env.stdout), { workers: [] });
  });
});

describe('taskmesh CLI across a dispatcher crash', () => {
  let suite: LocalSuite;
  let dir: string;
  before(async () => {
    suite = await startLocalSuite({ workers: ['wait', 'reverse'] });
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-cli-restart-'));
  });
  after(async () => {
    await suite?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('batch --wait and watch follow a dispatcher killed and started again, missing nothing', async () => {
    const d = ['--dispatcher', suite.dispatcherUrl!];
    const file = join(dir, 'slow.jsonl');
    await writeFile(
      file,
      Array.from({ length: 30 }, (_, i) => JSON.stringify({ type: 'wait', payload: { ms: 1500 + i * 10 } })).join('\n'),
    );
    let announce!: () => void;
    const watchingNow = new Promise<void>((resolve) => (announce = resolve));
    // 30 final events of wait tasks: the watch must see each once, across the restart.
    const watching = runCli([...d, 'watch', '--type', 'wait', '--events', 'succeeded', '--count', '30', '--json'], {
      onStderr: (text) => {
        if (text.includes('watching')) announce();
      },
    });
    await watchingNow;
    let submitted!: () => void;
    const submittedNow = new Promise<void>((resolve) => (submitted = resolve));
    const batch = runCli([...d, 'batch', file, '--wait'], {
      onStderr: () => undefined,
    });
    // The batch is accepted (its tasks are running) before the crash.
    void (async () => {
      for (let i = 0; i < 200; i++) {
        const list = await fetch(`${suite.dispatcherUrl!}/v1/tasks?type=wait&status=running`)
          .then((res) => res.json() as Promise<{ tasks: unknown[] }>)
          .catch(() => undefined);
        if ((list?.tasks.length ?? 0) > 0) return submitted();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      submitted();
    })();
    await submittedNow;
    await suite.restartDispatcher('SIGKILL');
    const r = await batch;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^submitted 30, succeeded 30, failed 0 in /);
    const w = await watching;
    assert.equal(w.code, 0, w.stderr);
    const events = w.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; event: string; taskId: string });
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...new Set(seqs)].sort((a, b) => a - b),
      'no event twice, in order',
    );
    assert.equal(new Set(events.map((e) => e.taskId)).size, 30, 'every task ended once, on the stream');
  });
});
