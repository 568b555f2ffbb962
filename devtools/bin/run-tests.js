#!/usr/bin/env node
// Runs the compiled tests of every workspace with node:test (spec reporter).
//   node devtools/bin/run-tests.js                 the default suite (npm test)
//   node devtools/bin/run-tests.js --suite compose  *.compose.test.js (needs a Docker engine)
//   node devtools/bin/run-tests.js --suite browser  *.browser.test.js (needs chromium)
//   node devtools/bin/run-tests.js [filter]        only files whose path contains filter
// Fails when no test ran, so a broken glob can never pass silently.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const workspaces = ['shared', 'nameservice', 'worker', 'dispatcher', 'client', 'monitoring', 'devtools'];
const args = process.argv.slice(2);
const suiteAt = args.indexOf('--suite');
const suite = suiteAt >= 0 ? args[suiteAt + 1] : 'default';
const filters = args.filter((a, i) => suiteAt < 0 || (i !== suiteAt && i !== suiteAt + 1));

const special = ['compose', 'browser'];
const belongs = (file) => {
  const kind = special.find((s) => file.endsWith(`.${s}.test.js`));
  return suite === 'default' ? kind === undefined : kind === suite;
};

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js') && belongs(path)) out.push(path);
  }
  return out;
}

const files = workspaces
  .flatMap((w) => walk(join(root, w, 'dist'), []))
  .filter((f) => filters.length === 0 || filters.some((flt) => f.includes(flt)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files found for suite "${suite}"${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
console.log(`run-tests: suite "${suite}", ${files.length} files`);
for (const f of files) console.log(`  ${relative(root, f)}`);

const child = spawn(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    `--test-concurrency=${suite === 'default' ? 2 : 1}`,
    `--test-timeout=${suite === 'compose' ? 3_600_000 : 300_000}`,
    ...files,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TASKMESH_TEST_SUITE: suite } },
);
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('exit', (code, signal) => {
  const ran = /ℹ tests (\d+)/.exec(tail);
  if (code === 0 && (!ran || Number(ran[1]) === 0)) {
    console.error('run-tests: no test ran');
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
