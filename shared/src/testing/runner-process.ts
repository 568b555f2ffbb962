import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './local-suite.js';

/**
 * `npm start` as a test (or the failover bench) runs it: the real runner (devtools' compiled
 * runner-main.js) in `dir`, with this workers.json, on free ports, its own secret, state file,
 * registry and journal in `dir`. `ready` resolves on its "all N services ready" line.
 */
export interface RunnerProcess {
  proc: ChildProcess;
  /** Every line it printed so far. */
  output: string[];
  ports: { nameservice: number; dispatcher: number; monitoring: number };
  urls: { nameservice: string; dispatcher: string; monitoring: string };
  stateFile: string;
  ready: Promise<void>;
  /** SIGTERM, and its exit (its services stop with it). */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export async function startRunner(options: {
  dir: string;
  workers: unknown;
  env?: NodeJS.ProcessEnv;
  /** Where its stderr goes: `pipe` keeps it in `output` too. */
  stderr?: 'inherit' | 'pipe';
}): Promise<RunnerProcess> {
  const { dir } = options;
  const workersFile = join(dir, 'workers.json');
  await writeFile(workersFile, JSON.stringify({ workers: options.workers }));
  const stateFile = join(dir, 'state.json');
  const ports = { nameservice: await freePort(), dispatcher: await freePort(), monitoring: await freePort() };
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'devtools', 'dist', 'runner-main.js')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', options.stderr ?? 'pipe'],
    env: {
      ...process.env,
      // Unset: the runner makes a secret of its own for the services it starts.
      TASKMESH_SECRET: '',
      TASKMESH_NAMESERVICE_PORT: String(ports.nameservice),
      TASKMESH_DISPATCHER_PORT: String(ports.dispatcher),
      TASKMESH_MONITORING_PORT: String(ports.monitoring),
      TASKMESH_WORKERS_FILE: workersFile,
      TASKMESH_RUNNER_STATE_FILE: stateFile,
      TASKMESH_REGISTRY_FILE: join(dir, 'registry.json'),
      TASKMESH_JOURNAL_PATH: join(dir, 'dispatcher-journal'),
      ...options.env,
    },
  });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      output.push(line);
      if (/all \d+ services ready/.test(line)) resolve();
    });
    if (proc.stderr) createInterface({ input: proc.stderr }).on('line', (line) => output.push(line));
    proc.once('exit', (code, signal) => reject(new Error(`the runner exited (${signal ?? code}) before its services were ready`)));
  });
  ready.catch(() => undefined);
  const url = (port: number): string => `http://127.0.0.1:${port}`;
  return {
    proc,
    output,
    ports,
    urls: { nameservice: url(ports.nameservice), dispatcher: url(ports.dispatcher), monitoring: url(ports.monitoring) },
    stateFile,
    ready,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}
