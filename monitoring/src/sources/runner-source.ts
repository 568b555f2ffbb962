import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import pidusage from 'pidusage';
import { RunnerState, type Logger, type RunnerProcess } from '@taskmesh/shared';
import { describeError, pollLoop } from './poll-loop.js';

/** One process of the local runner, with live resource figures. */
export interface ProcessView extends RunnerProcess {
  /** Whether the pid exists now. */
  alive: boolean;
  uptimeMs: number | null;
  /** CPU use since the previous sample, percent of one core (as `top` shows it). */
  cpuPercent: number | null;
  /** Resident set size. */
  memoryBytes: number | null;
}

export interface ProcessesSnapshot {
  /** Whether a readable runner state file was found. */
  available: boolean;
  file: string | null;
  error?: string;
  runnerPid?: number;
  updatedAt?: number;
  processes: ProcessView[];
}

export interface RunnerSourceOptions {
  /** The RunnerState file written by `npm start`; null when not configured. */
  file: string | null;
  intervalMs: number;
  logger: Logger;
}

/**
 * Reads the local runner's state file and samples CPU and memory of each listed pid with
 * pidusage. Emits `update` with a ProcessesSnapshot after each poll. The file is re-read on every
 * poll (it is tiny) rather than watched: fs.watch misses atomic renames on some platforms.
 */
export class RunnerSource extends EventEmitter<{ update: [ProcessesSnapshot] }> {
  private state: ProcessesSnapshot;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: RunnerSourceOptions) {
    super();
    this.state = {
      available: false,
      file: options.file,
      error: options.file === null ? 'TASKMESH_RUNNER_STATE_FILE is not set' : 'not read yet',
      processes: [],
    };
  }

  get snapshot(): ProcessesSnapshot {
    return this.state;
  }

  start(): void {
    if (this.options.file === null) return;
    this.loop ??= pollLoop(() => this.poll(this.options.file!), { intervalMs: this.options.intervalMs, signal: this.abort.signal });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    pidusage.clear();
  }

  private async poll(file: string): Promise<void> {
    let next: ProcessesSnapshot;
    try {
      const parsed = RunnerState.safeParse(JSON.parse(await readFile(file, 'utf8')));
      if (!parsed.success) throw new Error(`${file} is not a runner state file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      const now = Date.now();
      const processes = await Promise.all(parsed.data.processes.map((p) => sample(p, now)));
      next = { available: true, file, runnerPid: parsed.data.runnerPid, updatedAt: parsed.data.updatedAt, processes };
    } catch (err) {
      const error =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} does not exist (is the runner started?)` : describeError(err);
      if (error !== this.state.error) this.options.logger.warn('runner state unreadable', { file, error });
      next = { available: false, file, error, processes: [] };
    }
    this.state = next;
    if (!this.abort.signal.aborted) this.emit('update', next);
  }
}

async function sample(p: RunnerProcess, now: number): Promise<ProcessView> {
  const uptimeMs = p.startedAt !== null && p.status === 'running' ? Math.max(0, now - p.startedAt) : null;
  if (p.pid === null || p.pid <= 0) return { ...p, alive: false, uptimeMs, cpuPercent: null, memoryBytes: null };
  try {
    const stat = await pidusage(p.pid);
    return { ...p, alive: true, uptimeMs, cpuPercent: round(stat.cpu), memoryBytes: stat.memory };
  } catch {
    // The pid is gone (the runner has not rewritten the file yet) or not ours to read.
    return { ...p, alive: false, uptimeMs, cpuPercent: null, memoryBytes: null };
  }
}

const round = (n: number): number => Math.round(n * 10) / 10;
