import { spawn as spawnChild } from 'node:child_process';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { backoffDelay, type BackoffPolicy, type RunnerProcess, type RunnerState } from '@taskmesh/shared';

/**
 * The runner core: starts a set of services as child processes, restarts a crashed one with
 * exponential backoff (reset once it has run stably), reports every state change and stops
 * them all on request (SIGTERM, then SIGKILL after a grace period). It takes the spawn
 * function and the clock as arguments; runner-main.ts wires the real ones.
 */

/** One process to keep running. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  /** The complete environment of the child. */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stop order: higher tiers are stopped (and waited for) first, e.g. workers before the
   * nameservice so that they can still deregister. Default 0. */
  stopTier?: number;
  /** A worker: its exit is reported to the nameservice, and chaos controls may signal it. */
  role?: 'worker';
}

/** What the supervisor needs of a child process; node's ChildProcess satisfies it. */
export interface ChildHandle {
  readonly pid?: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  /** Messages the child sends over its IPC channel (absent in tests' fake children). */
  on?(event: 'message', listener: (message: unknown) => void): unknown;
  send?(message: unknown): boolean;
}

export type SpawnFn = (spec: ServiceSpec) => ChildHandle;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Spawns a child in its own process group: Ctrl-C in a terminal signals the whole foreground
 * group, and a service that got SIGINT from the terminal and SIGTERM from the runner would take
 * the second signal as "exit now" instead of draining. The runner alone forwards signals. Each
 * child also gets an IPC channel it never uses but for one thing: when the runner dies, however
 * it dies (SIGKILL, the OOM killer), the channel closes and the service shuts down as on SIGTERM.
 */
export const spawnNode: SpawnFn = (spec) =>
  spawnChild(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });

/**
 * Restart delays: 0.5 s doubling to 10 s. The cap is what a service under repeated faults can be
 * gone for at most between two runs; Docker's restart policy and systemd bound theirs too.
 */
export const DEFAULT_RESTART_POLICY: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 10_000, factor: 2, jitter: 0.2 };
/**
 * A process that was ready this long before it ended restarts at the initial delay again (as
 * Docker resets its delay once a container has run 10 s): a service that keeps coming up and
 * serving is not held back for the crashes of long ago.
 */
export const DEFAULT_STABLE_AFTER_MS = 10_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

export interface ExitInfo {
  service: string;
  /** The process that exited (null if it never started). */
  pid: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Delay before the restart, or undefined when the supervisor is stopping or gave up. */
  restartInMs: number | undefined;
  /** It exited with CANNOT_START_CODE before it was ready: its configuration is wrong, no restart helps. */
  cannotStart?: boolean;
}

/**
 * The exit code with which every taskmesh service says "I cannot start as configured" (a bad
 * variable, an unknown type, a task module that does not load): the supervisor does not restart it.
 */
const CANNOT_START_CODE = 2;

export interface SupervisorOptions {
  services: ServiceSpec[];
  spawn?: SpawnFn;
  clock?: Clock;
  restartPolicy?: BackoffPolicy;
  stableAfterMs?: number;
  stopGraceMs?: number;
  /** Recorded in the state as the runner's pid. */
  runnerPid?: number;
  /** A line a service printed; `pid` is the process that printed it (null when it never started). */
  onLine?: (service: string, line: string, stream: 'stdout' | 'stderr', pid: number | null) => void;
  /** A service logged its `{"event":"ready"}` line. */
  onReady?: (service: string, ready: Record<string, unknown>) => void;
  onExit?: (info: ExitInfo) => void;
  /** A child sent a message over its IPC channel; `reply` sends one back to it. */
  onMessage?: (service: string, message: unknown, reply: (message: unknown) => void) => void;
  /** Called with a fresh snapshot on every change. */
  onState?: (state: RunnerState) => void;
}

interface Entry {
  spec: ServiceSpec;
  record: RunnerProcess;
  child: ChildHandle | undefined;
  exited: Promise<void>;
  /** Consecutive crashes since the last stable run: the backoff exponent. */
  failures: number;
  /** When the running process said it was ready (undefined before it did). */
  readyAt: number | undefined;
  timer: unknown;
}

/** Exit status as a shell reports it: the code, or 128 + signal number. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number | null =>
  code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null);

export class Supervisor {
  private readonly entries: Entry[];
  private readonly clock: Clock;
  private readonly spawn: SpawnFn;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: SupervisorOptions) {
    const names = new Set<string>();
    for (const s of options.services) {
      if (names.has(s.name)) throw new Error(`duplicate service name: ${s.name}`);
      names.add(s.name);
    }
    this.clock = options.clock ?? systemClock;
    this.spawn = options.spawn ?? spawnNode;
    this.entries = options.services.map((spec) => ({
      spec,
      record: { name: spec.name, pid: null, status: 'starting', startedAt: null, restarts: 0, lastExitCode: null },
      child: undefined,
      exited: Promise.resolve(),
      failures: 0,
      readyAt: undefined,
      timer: undefined,
    }));
  }

  /** Starts every service. */
  start(): void {
    for (const entry of this.entries) this.launch(entry);
  }

  /** A snapshot of every process. */
  state(): RunnerState {
    return {
      version: 1,
      runnerPid: this.options.runnerPid ?? process.pid,
      updatedAt: this.clock.now(),
      processes: this.entries.map((e) => ({ ...e.record })),
    };
  }

  /** Sends `signal` to every running child at once, synchronously: the last resort when the
   * runner itself is exiting unexpectedly, so no child outlives it. */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const entry of this.entries) entry.child?.kill(signal);
  }

  /**
   * Signals the worker process with this pid, if this supervisor started it as a worker (chaos
   * controls: nobody else's process is signalled). Returns the service's name, or undefined.
   */
  signalWorker(pid: number, signal: NodeJS.Signals): string | undefined {
    const entry = this.entries.find((e) => e.spec.role === 'worker' && e.child?.pid === pid);
    if (entry === undefined) return undefined;
    entry.child!.kill(signal);
    return entry.spec.name;
  }

  /** SIGTERMs every child, SIGKILLs those still running after the grace period; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    for (const entry of this.entries) {
      if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
      if (!entry.child) {
        entry.record.status = 'stopped';
        entry.record.pid = null;
      }
    }
    this.emitState();
    const tiers = [...new Set(this.entries.map((e) => e.spec.stopTier ?? 0))].sort((a, b) => b - a);
    for (const tier of tiers) await this.stopTier(this.entries.filter((e) => (e.spec.stopTier ?? 0) === tier));
  }

  private async stopTier(entries: Entry[]): Promise<void> {
    for (const entry of entries) {
      entry.child?.kill('SIGTERM');
      // A paused (SIGSTOPped) child only hears SIGTERM once it runs again.
      entry.child?.kill('SIGCONT');
    }
    const killer = this.clock.setTimeout(() => {
      for (const entry of entries) entry.child?.kill('SIGKILL');
    }, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
    await Promise.all(entries.map((e) => e.exited));
    this.clock.clearTimeout(killer);
  }

  private emitState(): void {
    this.options.onState?.(this.state());
  }

  private launch(entry: Entry): void {
    entry.timer = undefined;
    const { record, spec } = entry;
    let child: ChildHandle;
    try {
      child = this.spawn(spec);
    } catch (err) {
      this.options.onLine?.(spec.name, `cannot start: ${(err as Error).message}`, 'stderr', null);
      this.scheduleRestart(entry, null, null, null);
      return;
    }
    entry.child = child;
    record.pid = child.pid ?? null;
    record.status = 'starting';
    record.startedAt = this.clock.now();
    entry.exited = new Promise<void>((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return;
        done = true;
        entry.child = undefined;
        record.pid = null;
        this.onChildExit(entry, child.pid ?? null, code, signal);
        resolve();
      };
      child.once('exit', finish);
      // A spawn failure (ENOENT) emits 'error' and may never emit 'exit'.
      child.once('error', (err) => {
        this.options.onLine?.(spec.name, `process error: ${err.message}`, 'stderr', child.pid ?? null);
        if (child.pid === undefined) finish(null, null);
      });
    });
    child.on?.('message', (message) =>
      this.options.onMessage?.(spec.name, message, (answer) => {
        if (entry.child === child) child.send?.(answer);
      }),
    );
    this.follow(entry, child.stdout, 'stdout', child.pid ?? null);
    this.follow(entry, child.stderr, 'stderr', child.pid ?? null);
    this.emitState();
  }

  private follow(entry: Entry, stream: Readable | null, kind: 'stdout' | 'stderr', pid: number | null): void {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      this.options.onLine?.(entry.spec.name, line, kind, pid);
      if (entry.record.status === 'starting' && line.includes('"ready"')) this.checkReady(entry, line);
    });
  }

  private checkReady(entry: Entry, line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as { event?: unknown }).event !== 'ready') return;
    entry.record.status = 'running';
    entry.readyAt = this.clock.now();
    this.emitState();
    this.options.onReady?.(entry.spec.name, parsed as Record<string, unknown>);
  }

  private onChildExit(entry: Entry, pid: number | null, code: number | null, signal: NodeJS.Signals | null): void {
    entry.record.lastExitCode = exitStatus(code, signal);
    if (this.stopping) {
      entry.record.status = 'stopped';
      this.options.onExit?.({ service: entry.spec.name, pid, code, signal, restartInMs: undefined });
      this.emitState();
      return;
    }
    if (code === CANNOT_START_CODE && entry.record.status === 'starting') {
      // Its own message (above, on its stderr) says why; restarting would only repeat it.
      entry.record.status = 'crashed';
      this.options.onExit?.({ service: entry.spec.name, pid, code, signal, restartInMs: undefined, cannotStart: true });
      this.emitState();
      return;
    }
    this.scheduleRestart(entry, pid, code, signal);
  }

  private scheduleRestart(entry: Entry, pid: number | null, code: number | null, signal: NodeJS.Signals | null): void {
    const readyForMs = entry.readyAt === undefined ? 0 : this.clock.now() - entry.readyAt;
    entry.readyAt = undefined;
    if (readyForMs >= (this.options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS)) entry.failures = 0;
    const delayMs = backoffDelay(this.options.restartPolicy ?? DEFAULT_RESTART_POLICY, entry.failures);
    entry.failures += 1;
    entry.record.status = 'restarting';
    this.options.onExit?.({ service: entry.spec.name, pid, code, signal, restartInMs: delayMs });
    this.emitState();
    entry.timer = this.clock.setTimeout(() => {
      entry.record.restarts += 1;
      this.launch(entry);
    }, delayMs);
  }
}
