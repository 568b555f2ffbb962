import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_WORKERS_CONFIG, loadWorkersConfig, parseWorkersConfig, workerEnv, WORKER_TYPES } from './workers-config.js';

test('a valid file parses with defaults filled in', () => {
  const c = parseWorkersConfig({ workers: { reverse: {}, image: { replicas: 2, concurrency: 2, queueSize: 8, env: { FOO: 'x' } } } });
  assert.deepEqual(c.workers.reverse, { replicas: 1, env: {} });
  assert.deepEqual(workerEnv(c.workers.image!), { TASKMESH_WORKER_CONCURRENCY: '2', TASKMESH_WORKER_QUEUE_SIZE: '8', FOO: 'x' });
});

test('errors name the bad field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ workers: { reverse: { replicas: -1 } } }, /workers\.reverse\.replicas: /],
    [{ workers: { reverse: { replicas: 'two' } } }, /workers\.reverse\.replicas: /],
    [{ workers: { hash: { concurrency: 0 } } }, /workers\.hash\.concurrency: /],
    [{ workers: { hash: { replica: 2 } } }, /workers\.hash\.replica: unknown field/],
    [{ workers: { Bad_Type: {} } }, /workers\.Bad_Type: /],
    [{ workers: { sum: { env: { 'not-a-name': 'x' } } } }, /workers\.sum\.env\.not-a-name: /],
    [{ workers: {} }, /workers: at least one worker type/],
    [{ worker: {} }, /worker: unknown field/],
    [[], /\(top level\)/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(
      () => parseWorkersConfig(value, 'w.json'),
      (err: Error) => {
        assert.equal(err.name, 'WorkersConfigError');
        assert.match(err.message, /^w\.json: /);
        assert.match(err.message, pattern);
        return true;
      },
    );
  }
});

test('loadWorkersConfig reads a file, names a JSON error, and defaults when missing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.json');
  await writeFile(good, JSON.stringify({ workers: { upper: { replicas: 3 } } }));
  assert.equal((await loadWorkersConfig(good)).workers.upper?.replicas, 3);
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{ "workers": ');
  await assert.rejects(loadWorkersConfig(bad), /bad\.json: not valid JSON/);
  assert.deepEqual(await loadWorkersConfig(join(dir, 'missing.json')), DEFAULT_WORKERS_CONFIG);
  assert.deepEqual(Object.keys(DEFAULT_WORKERS_CONFIG.workers), [...WORKER_TYPES]);
});

test('the committed workers.json is valid: every built-in type, and the example of your own', async () => {
  const c = await loadWorkersConfig(new URL('../../workers.json', import.meta.url).pathname);
  assert.deepEqual(Object.keys(c.workers).sort(), [...WORKER_TYPES, 'wordcount'].sort());
  assert.equal(c.workers.wordcount!.module, new URL('../../examples/wordcount.mjs', import.meta.url).pathname);
});

test('a module entry is resolved against the workers file and becomes TASKMESH_WORKER_MODULE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-workers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'workers.json');
  await writeFile(file, JSON.stringify({ workers: { wordcount: { module: './tasks/wordcount.mjs' } } }));
  const config = await loadWorkersConfig(file);
  assert.equal(config.workers.wordcount!.module, join(dir, 'tasks', 'wordcount.mjs'));
  assert.equal(workerEnv(config.workers.wordcount!).TASKMESH_WORKER_MODULE, join(dir, 'tasks', 'wordcount.mjs'));
});
