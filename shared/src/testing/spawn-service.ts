import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** The TASKMESH_SECRET every test service gets unless a test passes its own. */
export const TEST_SECRET = 'taskmesh-test-secret-0123456789abcdef';

/**
 * Starts a taskmesh service as a real child process and resolves when it logs its ready line:
 * a JSON log line with `"event":"ready"` carrying the ports it bound (`http`, `udp`).
 * Every service's main.ts logs that line once it is serving.
 */
export interface SpawnServiceOptions {
  /** Used in error messages. */
  name: string;
  /** Path of the compiled entry point, run with the current node. */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  cwd?: string;
  /** Options for node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

export interface ReadyLine {
  event: 'ready';
  http?: number;
  udp?: number;
  /** A worker's UDP endpoint id: frames to it must be signed for it. */
  endpointId?: string;
  [key: string]: unknown;
}

export interface RunningService {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly ready: ReadyLine;
  /** Every parsed JSON log line so far (non-JSON lines are kept as `{ raw }`). */
  readonly lines: Array<Record<string, unknown>>;
  /** Resolves with the first line (past or future) for which the predicate holds. */
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal and resolves with the exit code and signal once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Generous: on a loaded 2-core machine a worker (canvas, heartbeat thread) can take many seconds. */
const DEFAULT_READY_TIMEOUT_MS = 45_000;

/** Services still running: a test process that exits (or is stopped by its timeout) takes them with it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

export async function spawnService(options: SpawnServiceOptions): Promise<RunningService> {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])], {
    cwd: options.cwd,
    // Every service needs the shared secret; a test that checks the refusal passes TASKMESH_SECRET: ''.
    env: { TASKMESH_LOG_LEVEL: 'info', ...process.env, TASKMESH_SECRET: TEST_SECRET, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<{ predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  const stderr: string[] = [];
  const onLine = (text: string): void => {
    let line: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      line = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { raw: text };
    } catch {
      line = { raw: text };
    }
    lines.push(line);
    for (const w of waiters) {
      if (w.predicate(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: proc.stdout }).on('line', onLine);
  createInterface({ input: proc.stderr }).on('line', (l) => {
    stderr.push(l);
    if (stderr.length > 50) stderr.shift();
    onLine(l);
  });
  const exited = once(proc, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));

  const waitForLine = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const seen = lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const entry = {
        predicate,
        resolve: (l: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(entry);
        reject(
          new Error(
            `${options.name}: no matching log line within ${timeoutMs} ms; last lines:\n${lines
              .slice(-15)
              .map((l) => JSON.stringify(l))
              .join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiters.add(entry);
    });
  };

  let exitedFlag = false;
  running.add(proc);
  void exited.then(() => {
    exitedFlag = true;
    running.delete(proc);
  });

  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  let ready: Record<string, unknown>;
  try {
    ready = await Promise.race([
      waitForLine((l) => l.event === 'ready', readyTimeoutMs),
      exited.then(({ code, signal }) => {
        throw new Error(
          `${options.name} exited (code ${code}, signal ${signal}) before it was ready:\n${stderr.join('\n')}\n${lines
            .slice(-15)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
        );
      }),
    ]);
  } catch (err) {
    // Never leave a half-started service behind.
    if (!exitedFlag) {
      proc.kill('SIGKILL');
      await exited;
    }
    throw err;
  }

  return {
    name: options.name,
    proc,
    pid: proc.pid!,
    ready: ready as ReadyLine,
    lines,
    waitForLine,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (!exitedFlag) proc.kill(signal);
      return exited;
    },
  };
}
