import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryFile, silentLogger, type WorkerRecord } from '@taskmesh/shared';
import { RegistryStore } from './registry-store.js';
import { WorkerRegistry } from './worker-registry.js';
import { registration, tempDir } from './test-support.js';

function records(...names: string[]): WorkerRecord[] {
  const registry = new WorkerRegistry({ clock: () => 5000 });
  for (const n of names) registry.register(registration(n));
  return registry.snapshot();
}

const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8')) as unknown;

test('a missing file is a first start: empty, and the directory is created', async (t) => {
  const dir = await tempDir(t);
  const store = new RegistryStore({ path: join(dir, 'nested', 'registry.json'), logger: silentLogger() });
  assert.deepEqual(await store.load(), { workers: [], source: 'empty' });
  await store.save(records('a'), 1);
  assert.equal(RegistryFile.parse(await readJson(store.path)).workers[0]?.name, 'a');
});

test('saves are atomic: the file always parses, the previous generation is the .bak, no temp files stay', async (t) => {
  const dir = await tempDir(t);
  const store = new RegistryStore({ path: join(dir, 'registry.json'), logger: silentLogger() });
  await store.load();
  await store.save(records('a'), 1);
  await assert.rejects(readFile(store.backupPath), { code: 'ENOENT' }, 'no earlier generation yet');
  await store.save(records('a', 'b'), 2);
  await store.save(records('a', 'b', 'c'), 3);
  const main = RegistryFile.parse(await readJson(store.path));
  const bak = RegistryFile.parse(await readJson(store.backupPath));
  assert.deepEqual([main.savedAt, main.workers.length], [3, 3]);
  assert.deepEqual([bak.savedAt, bak.workers.length], [2, 2]);
  assert.deepEqual((await readdir(dir)).sort(), ['registry.json', 'registry.json.bak']);

  // concurrent saves from two stores on the same file never leave a torn file either
  const other = new RegistryStore({ path: store.path, logger: silentLogger() });
  await other.load();
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).save(records('x', `y${i}`), 10 + i)));
  RegistryFile.parse(await readJson(store.path));
  RegistryFile.parse(await readJson(store.backupPath));
  assert.deepEqual((await readdir(dir)).sort(), ['registry.json', 'registry.json.bak']);
});

test('stale temp files from a crash mid-write are removed on load', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'registry.json');
  await writeFile(`${path}.123.1.tmp`, '{"version":1,"sav');
  await writeFile(join(dir, 'unrelated.tmp'), 'keep me');
  await new RegistryStore({ path, logger: silentLogger() }).load();
  assert.deepEqual(await readdir(dir), ['unrelated.tmp']);
});

const damaged: Array<[string, string]> = [
  ['garbage', '\u0000\u0001not json at all'],
  ['truncated JSON', '{"version":1,"savedAt":5,"workers":[{"name":"a","ty'],
  ['valid JSON, wrong schema', '{"version":1,"savedAt":5,"workers":[{"name":"a"}]}'],
  ['another version', '{"version":7,"savedAt":5,"workers":[]}'],
  ['empty', ''],
];

for (const [label, text] of damaged) {
  test(`a damaged file (${label}) falls back to the .bak, or to empty without one`, async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'registry.json');
    const good = new RegistryStore({ path, logger: silentLogger() });
    await good.load();
    await good.save(records('from-bak'), 1);
    await good.save(records('newest'), 2); // .bak now holds 'from-bak'
    await writeFile(path, text);

    const store = new RegistryStore({ path, logger: silentLogger() });
    const loaded = await store.load();
    assert.equal(loaded.source, 'backup');
    assert.deepEqual(
      loaded.workers.map((w) => w.name),
      ['from-bak'],
    );
    assert.equal(await readFile(store.corruptPath, 'utf8'), text, 'the damaged file is kept aside');
    // the next save repairs the main file and keeps the good .bak
    await store.save(records('after'), 3);
    assert.deepEqual(
      RegistryFile.parse(await readJson(path)).workers.map((w) => w.name),
      ['after'],
    );
    assert.deepEqual(
      RegistryFile.parse(await readJson(store.backupPath)).workers.map((w) => w.name),
      ['from-bak'],
    );

    const lonely = join(dir, 'lonely.json');
    await writeFile(lonely, text);
    assert.deepEqual(await new RegistryStore({ path: lonely, logger: silentLogger() }).load(), { workers: [], source: 'empty' });
  });
}

test('a damaged .bak as well gives an empty registry', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'registry.json');
  await writeFile(path, '{');
  await writeFile(`${path}.bak`, '[]');
  assert.deepEqual(await new RegistryStore({ path, logger: silentLogger() }).load(), { workers: [], source: 'empty' });
});
