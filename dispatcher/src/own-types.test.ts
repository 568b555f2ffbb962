import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, TEST_SECRET, serviceScript, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually, typeKnown } from './test-support.js';

/** A user's task module, written outside every workspace: it imports only '@taskmesh/worker'. */
const WORDCOUNT = `import { defineTaskType, z } from '@taskmesh/worker';
export default defineTaskType({
  name: 'wordcount',
  description: 'Counts the words of a text',
  payload: z.object({ text: z.string().max(100000) }),
  handle: ({ text }) => ({ words: text.split(/\\s+/).filter(Boolean).length }),
});
`;

/** A module that reports what of the worker's secrets it can see. */
const ENVPEEK = `import { defineTaskType, z } from '@taskmesh/worker';
export default defineTaskType({
  name: 'envpeek',
  description: 'Says which secrets the process environment shows a module',
  payload: z.object({}),
  handle: () => ({ secrets: Object.keys(process.env).filter((k) => /SECRET/.test(k)), secret: process.env.TASKMESH_SECRET ?? null }),
});
`;

describe('a task type of your own, from a module outside taskmesh', () => {
  let suite: LocalSuite;
  let dir: string;
  let base: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-own-types-'));
    await writeFile(join(dir, 'wordcount.mjs'), WORDCOUNT);
    await writeFile(join(dir, 'envpeek.mjs'), ENVPEEK);
    suite = await startLocalSuite({ workers: ['reverse'] });
    await suite.addWorker('wordcount', { TASKMESH_WORKER_MODULE: join(dir, 'wordcount.mjs') });
    await suite.addWorker('envpeek', { TASKMESH_WORKER_MODULE: join(dir, 'envpeek.mjs') });
    base = suite.dispatcherUrl!;
    await typeKnown(base, 'wordcount');
    await typeKnown(base, 'envpeek');
  });
  after(async () => {
    await suite?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('runs through the API like a built-in and is listed with its contract and workers', async () => {
    const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'wordcount', payload: { text: 'one two three' } } });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    assert.deepEqual(r.body.result, { words: 3 });
    const types = (await api(base, '/v1/types')).body.types as Array<Record<string, any>>;
    const wordcount = types.find((t) => t.name === 'wordcount')!;
    assert.equal(wordcount.description, 'Counts the words of a text');
    assert.equal(wordcount.builtin, false);
    assert.equal(wordcount.workers, 1);
    assert.equal(wordcount.payloadSchema.properties.text.type, 'string');
    assert.match(wordcount.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(types.find((t) => t.name === 'reverse')!.builtin, true);
  });

  test("a module never finds TASKMESH_SECRET in the worker's environment: it is read, its keys derived, and removed before the module loads", async () => {
    const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'envpeek', payload: {} } });
    assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
    assert.deepEqual(r.body.result, { secrets: [], secret: null });
  });

  test('the CLI lists it (taskmesh types) and runs it with a JSON payload', () => {
    const cli = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'client/dist/main.js'), '--dispatcher', base, ...args], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const types = cli('types');
    assert.equal(types.status, 0, types.stderr);
    assert.match(types.stdout, /wordcount\s+│?\s*own\s+│?\s*1\s/);
    assert.match(types.stdout, /Counts the words of a text/);
    assert.match(types.stdout, /reverse\s+│?\s*built-in/);
    const run = cli('submit', 'wordcount', '{"text":"one two three"}', '--wait', '--json');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as { result: unknown }).result, { words: 3 });
  });

  test('a bad payload is refused at submit, naming the field, for the own type as for a built-in', async () => {
    const own = await api(base, '/v1/tasks', { body: { type: 'wordcount', payload: { text: 42 } } });
    assert.deepEqual([own.status, own.body.error.code], [400, 'INVALID_PAYLOAD']);
    assert.match(own.body.error.message, /text: must be string/);
    assert.deepEqual(own.body.error.details.fields, ['text']);
    const missing = await api(base, '/v1/tasks/batch', { body: { tasks: [{ type: 'wordcount', payload: {} }] } });
    assert.deepEqual([missing.status, missing.body.error.code], [400, 'INVALID_PAYLOAD']);
    assert.match(missing.body.error.message, /tasks\.0\.payload\.text/);
    const builtin = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: 42 } } });
    assert.deepEqual([builtin.status, builtin.body.error.code], [400, 'INVALID_PAYLOAD']);
    const unknown = await api(base, '/v1/tasks', { body: { type: 'nosuch', payload: {} } });
    assert.equal(unknown.body.error.code, 'UNKNOWN_TYPE');
    assert.ok(unknown.body.error.details.knownTypes.includes('wordcount'));
  });

  test('another contract for the same type is refused at registration, naming both fingerprints', async () => {
    await writeFile(join(dir, 'wordcount-v2.mjs'), WORDCOUNT.replace('z.string().max(100000)', 'z.string().max(10)'));
    // Started by hand: it never becomes ready (it cannot register), which is the point.
    const rival = spawn(process.execPath, [serviceScript('worker'), 'wordcount'], {
      env: {
        ...process.env,
        ...suite.env,
        TASKMESH_SECRET: TEST_SECRET,
        TASKMESH_WORKER_HOST: '127.0.0.1',
        TASKMESH_WORKER_PORT: '0',
        TASKMESH_WORKER_MODULE: join(dir, 'wordcount-v2.mjs'),
        TASKMESH_WORKER_NAME: 'wordcount-v2',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const refusal = await new Promise<{ message: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no refusal logged')), 20_000);
      createInterface({ input: rival.stdout }).on('line', (line) => {
        const parsed = JSON.parse(line) as { message: string };
        if (/contract [0-9a-f]{32} \(worker .+\); this worker's is [0-9a-f]{32}/.test(parsed.message)) {
          clearTimeout(timer);
          resolve(parsed);
        }
      });
    }).finally(() => rival.kill('SIGKILL'));
    assert.match(String(refusal.message), /give the new contract a new type name, or drain the old workers first/);
    const types = (await api(base, '/v1/types')).body.types as Array<{ name: string; workers: number }>;
    assert.equal(types.find((t) => t.name === 'wordcount')!.workers, 1);
  });
});

describe('a module that cannot be a task type stops its worker with a message naming the file', () => {
  const run = (module: string, type: string): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [serviceScript('worker'), type], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, TASKMESH_SECRET: TEST_SECRET, TASKMESH_WORKER_MODULE: module, TASKMESH_NAMESERVICE_URL: 'http://127.0.0.1:9' },
    });
    return { status: r.status, stderr: r.stderr };
  };
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-bad-modules-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('missing, throwing, exporting nothing, a built-in name, another name', async () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['absent.mjs', '', 'wordcount', /absent\.mjs cannot be loaded: no such file/],
      ['throws.mjs', "throw new Error('boom at import');", 'wordcount', /throws\.mjs cannot be loaded: boom at import/],
      ['nothing.mjs', 'export const x = 1;', 'wordcount', /nothing\.mjs exports no task type/],
      [
        'clash.mjs',
        WORDCOUNT.replace("name: 'wordcount'", "name: 'reverse'"),
        'reverse',
        /clash\.mjs defines "reverse", the name of a built-in type/,
      ],
      ['other.mjs', WORDCOUNT, 'lettercount', /other\.mjs defines type "wordcount", but this worker was started for "lettercount"/],
    ];
    for (const [file, text, type, message] of cases) {
      if (text !== '') await writeFile(join(dir, file), text);
      const r = run(join(dir, file), type);
      assert.equal(r.status, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /TASKMESH_WORKER_MODULE/);
    }
  });
});

describe('handlers fail the way users expect', () => {
  const FLAKY = `import { defineTaskType, TaskError, z } from '@taskmesh/worker';
export default defineTaskType({
  name: 'flaky',
  description: 'Fails retryably on the worker flaky-a, works elsewhere; mode final always fails',
  payload: z.object({ n: z.number(), mode: z.enum(['retryable', 'final']) }),
  handle: ({ mode }, ctx) => {
    if (mode === 'final') throw new Error('broken for good');
    if (ctx.workerName === 'flaky-a') throw new TaskError('FLAKY', 'not on this worker', { retryable: true });
    return { on: ctx.workerName };
  },
});
`;
  let suite: LocalSuite;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-flaky-'));
    await writeFile(join(dir, 'flaky.mjs'), FLAKY);
    suite = await startLocalSuite({ workers: [] });
    for (const name of ['flaky-a', 'flaky-b']) {
      await suite.addWorker('flaky', { TASKMESH_WORKER_MODULE: join(dir, 'flaky.mjs'), TASKMESH_WORKER_NAME: name });
    }
    await typeKnown(suite.dispatcherUrl!, 'flaky', 2);
  });
  after(async () => {
    await suite?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a retryable TaskError is retried on another worker and succeeds; any other error fails at once, its stack kept at the worker', async () => {
    const base = suite.dispatcherUrl!;
    const tasks = Array.from({ length: 12 }, (_, n) => ({ type: 'flaky', payload: { n, mode: 'retryable' }, maxAttempts: 3 }));
    const { ids } = (await api(base, '/v1/tasks/batch', { body: { tasks } })).body as { ids: string[] };
    const records = await Promise.all(ids.map(async (id) => (await api(base, `/v1/tasks/${id}?wait=20000`)).body));
    assert.deepEqual(
      records.map((r) => [r.status, r.result?.on]),
      records.map(() => ['succeeded', 'flaky-b']),
    );
    assert.ok(
      records.some((r) => r.attempts >= 2),
      'some went to flaky-a first and were retried',
    );
    // The trace of a retried one tells the story: where each attempt ran, why there, how it ended.
    const retried = records.find((r) => r.attempts >= 2)!;
    const trace = (await api(base, `/v1/tasks/${retried.id}/trace`)).body;
    assert.equal(trace.task.id, retried.id);
    const [first, last] = [trace.attempts[0], trace.attempts.at(-1)];
    assert.deepEqual([first.worker, first.outcome], ['flaky-a', 'FLAKY not on this worker']);
    assert.deepEqual([last.worker, last.outcome], ['flaky-b', 'succeeded']);
    assert.deepEqual(first.candidates.map((c: { name: string }) => c.name).sort(), ['flaky-a', 'flaky-b']);
    assert.ok(
      last.candidates.some((c: { name: string; avoided: boolean }) => c.name === 'flaky-a' && c.avoided),
      'the failed worker avoided',
    );
    assert.equal(typeof first.reason, 'string');
    assert.ok(first.sentAt <= first.ackedAt && first.ackedAt <= first.endedAt);
    assert.deepEqual(
      trace.events.map((e: { event: string }) => e.event).filter((e: string) => e !== 'dispatched'),
      ['submitted', 'retrying', 'succeeded'],
    );
    const final = await api(base, '/v1/tasks?wait=20000', { body: { type: 'flaky', payload: { n: 0, mode: 'final' }, maxAttempts: 3 } });
    assert.equal(final.body.status, 'failed');
    assert.deepEqual(final.body.error, { code: 'HANDLER_FAILED', message: 'broken for good' });
    assert.equal(final.body.attempts, 1);
    const worker = suite.workers.find((w) => w.lines.some((l) => l.event === 'handler-failed'))!;
    const logged = worker.lines.find((l) => l.event === 'handler-failed')!;
    assert.match(String(logged.error), /broken for good\n\s+at /);
  });
});

describe('the badge example: the canvas, progress and cancellation in a module of your own', () => {
  let suite: LocalSuite;
  before(async () => {
    suite = await startLocalSuite({ workers: [] });
    await suite.addWorker('badge', { TASKMESH_WORKER_MODULE: join(REPO_ROOT, 'examples/badge.mjs'), TASKMESH_LOG_LEVEL: 'debug' });
    await typeKnown(suite.dispatcherUrl!, 'badge', 1);
  });
  after(async () => {
    await suite?.stop();
  });

  test('renders a PNG, reporting progress on the way; a cancelled one stops at its worker', async () => {
    const base = suite.dispatcherUrl!;
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/events?type=badge&event=progress`);
    const progress: number[] = [];
    ws.on('message', (data) => progress.push((JSON.parse((data as Buffer).toString()) as { progress: number }).progress));
    await new Promise((resolve) => ws.once('open', resolve));
    const done = await api(base, '/v1/tasks?wait=20000', { body: { type: 'badge', payload: { text: 'taskmesh', steps: 4, stepMs: 300 } } });
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body.error));
    assert.equal(Buffer.from(done.body.result.data, 'base64').subarray(1, 4).toString('latin1'), 'PNG');
    await eventually('progress events', () => progress.length >= 2);
    ws.close();
    // Fields with defaults may be left out: the contract's schema is the input side.
    const defaults = await api(base, '/v1/tasks?wait=20000', { body: { type: 'badge', payload: { text: 'defaults' } } });
    assert.equal(defaults.body.status, 'succeeded', JSON.stringify(defaults.body.error));

    const long = await api(base, '/v1/tasks', { body: { type: 'badge', payload: { text: 'long', steps: 50, stepMs: 200 } } });
    await eventually('the long one to run', async () => (await api(base, `/v1/tasks/${long.body.id}`)).body.status === 'running');
    const cancelled = await api(base, `/v1/tasks/${long.body.id}`, { method: 'DELETE' });
    assert.equal(cancelled.body.status, 'cancelled');
    const worker = suite.workers.find((w) => w.name === 'worker-badge')!;
    const ended = await worker.waitForLine((l) => l.event === 'task-finished' && l.taskId === long.body.id, 5000);
    assert.equal(ended.ok, false);
    assert.ok(Number(ended.ms) < 5000, `stopped after ${String(ended.ms)} ms`);
  });
});
