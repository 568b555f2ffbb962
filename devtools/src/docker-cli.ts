import { spawn, spawnSync } from 'node:child_process';

/**
 * Thin helpers over the docker and compose command lines for the real-engine test suite
 * (`*.compose.test.ts`). Every call has a timeout; a failing command rejects with its output.
 */

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Resolve even when the command exits non-zero. */
  allowFailure?: boolean;
}

/** Runs a command to completion and collects its output. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code === 0 || options.allowFailure) resolve(result);
      else {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exit ${code}`;
        reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderr.slice(-3000)}${stdout.slice(-2000)}`));
      }
    });
  });
}

/** Whether a Docker engine answers, and why not when it does not. */
export function dockerEngine(): { ok: true } | { ok: false; reason: string } {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.error) return { ok: false, reason: `docker: ${info.error.message}` };
  if (info.status !== 0) return { ok: false, reason: (info.stderr || info.stdout).trim().split('\n').at(-1) ?? 'docker info failed' };
  return { ok: true };
}

/**
 * The Compose command line: TASKMESH_COMPOSE if set (e.g. "docker-compose"), else the v2
 * plugin `docker compose` when installed, else v1 `docker-compose`.
 */
export function composeCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TASKMESH_COMPOSE) return env.TASKMESH_COMPOSE.split(/\s+/).filter(Boolean);
  const v2 = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 20_000 });
  return v2.status === 0 ? ['docker', 'compose'] : ['docker-compose'];
}

/** Container ids with these labels, stopped ones included. */
export async function containersWith(labels: Record<string, string>): Promise<string[]> {
  const filters = Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
  const { stdout } = await run('docker', ['ps', '-a', '-q', '--no-trunc', ...filters]);
  return stdout.split('\n').filter(Boolean);
}

export interface ContainerState {
  id: string;
  name: string;
  status: string;
  exitCode: number;
  health: string | null;
  ipAddresses: string[];
  /** The networks it is on, by name. */
  networks: string[];
  /** When it last stopped (ms since the epoch), or null if it never did. */
  finishedAt: number | null;
}

/** `docker inspect` reduced to what the tests look at. */
export async function inspectContainers(ids: readonly string[]): Promise<ContainerState[]> {
  if (ids.length === 0) return [];
  const { stdout } = await run('docker', ['inspect', ...ids]);
  const raw = JSON.parse(stdout) as Array<{
    Id: string;
    Name: string;
    State: { Status: string; ExitCode: number; Health?: { Status: string }; FinishedAt?: string };
    NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
  }>;
  return raw.map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    status: c.State.Status,
    exitCode: c.State.ExitCode,
    health: c.State.Health?.Status ?? null,
    finishedAt: c.State.FinishedAt === undefined || c.State.FinishedAt.startsWith('0001') ? null : Date.parse(c.State.FinishedAt),
    ipAddresses: Object.values(c.NetworkSettings.Networks ?? {})
      .map((n) => n.IPAddress)
      .filter(Boolean),
    networks: Object.keys(c.NetworkSettings.Networks ?? {}),
  }));
}
