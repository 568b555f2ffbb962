#!/usr/bin/env node
// Used by the Dockerfile's build stage, after `tsc -b`: copies what the runtime image needs
// into <out>/manifests (package.json files, lockfile: for `npm ci --omit=dev`) and <out>/app
// (every workspace without its sources, tests, tsconfig and node_modules). Copying by rule
// rather than by a list keeps new runtime folders (e.g. monitoring/public) in the image.
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';

const out = resolve(process.argv[2] ?? '/stage');
const root = process.cwd();
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const manifests = join(out, 'manifests');
const app = join(out, 'app');
mkdirSync(manifests, { recursive: true });
for (const file of ['package.json', 'package-lock.json', '.npmrc']) {
  try {
    cpSync(join(root, file), join(manifests, file));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}
const skip = (path) => {
  const name = basename(path);
  return (
    name === 'node_modules' ||
    name === 'src' ||
    name.startsWith('tsconfig') ||
    name.endsWith('.tsbuildinfo') ||
    /\.(test|compose\.test|browser\.test)\.(js|d\.ts)(\.map)?$/.test(name)
  );
};
for (const ws of workspaces) {
  cpSync(join(root, ws, 'package.json'), join(manifests, ws, 'package.json'));
  cpSync(join(root, ws), join(app, ws), {
    recursive: true,
    filter: (src) => src === join(root, ws) || !skip(relative(root, src)),
  });
}
console.log(`stage-runtime: ${workspaces.length} workspaces staged in ${out}`);
