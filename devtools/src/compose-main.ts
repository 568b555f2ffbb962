#!/usr/bin/env node
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UnsupportedInComposeError, generateDeployment } from './compose-file.js';
import { loadWorkersConfig, WorkersConfigError } from './workers-config.js';

/**
 * `npm run compose`: writes docker-compose.yml and docker-stack.yml from workers.json.
 * `npm run compose -- --check` writes nothing and fails when a committed file is stale.
 * Options: --workers <file> (default workers.json), --out-dir <dir> (default the repo root).
 */
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      check: { type: 'boolean', default: false },
      workers: { type: 'string', default: join(ROOT, 'workers.json') },
      'out-dir': { type: 'string', default: ROOT },
    },
  });
  const workers = await loadWorkersConfig(resolve(values.workers));
  // Module paths are placed relative to the folder the images are built from: the one the files go to.
  const files = generateDeployment(workers, resolve(values['out-dir']));
  const stale: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(resolve(values['out-dir']), name);
    if (values.check) {
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current !== text) stale.push(current === undefined ? `${name} (missing)` : name);
    } else {
      await writeFile(path, text);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(`compose: ${stale.join(', ')} out of date with ${values.workers}; run: npm run compose\n`);
    return 1;
  }
  if (values.check) process.stdout.write(`compose: ${Object.keys(files).join(', ')} up to date\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known =
      err instanceof WorkersConfigError ||
      err instanceof UnsupportedInComposeError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`compose: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(2);
  },
);
