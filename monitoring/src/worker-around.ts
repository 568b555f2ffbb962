import { TaskmeshError, type WorkerRecord } from '@taskmesh/shared';
import type { ContainerView } from './sources/docker-view.js';
import type { DockerSource } from './sources/docker-source.js';
import type { ProcessView } from './sources/runner-source.js';
import { runnerLogsAround, type LogLine } from './sources/worker-logs.js';
import { joinWorkers, type WorkerView } from './worker-join.js';

/** How far either side of the moment a task's page shows a worker's lines. */
const AROUND_MS = 30_000;

/** GET /api/workers/:name/around?at=: a worker, where it runs, its stats now and its lines then. */
export interface WorkerAround {
  worker: WorkerView;
  from: number;
  to: number;
  /** Where the lines come from: the container's log (Docker), the runner's log file, or nowhere. */
  source: 'docker' | 'runner' | null;
  /** Why there are no lines, when there are none to read. */
  note: string | null;
  stats: { cpuPercent: number | null; memoryBytes: number | null; state: string } | null;
  lines: LogLine[];
}

export interface WorkerAroundSources {
  workers: () => WorkerRecord[];
  containers: () => ContainerView[];
  processes: () => ProcessView[];
  docker: DockerSource | null;
  /** The runner's log files (beside its state file), under npm start. */
  runnerLogDir: string | null;
}

export async function workerAround(sources: WorkerAroundSources, name: string, at: number): Promise<WorkerAround> {
  const record = sources.workers().find((w) => w.name === name);
  if (record === undefined)
    throw new TaskmeshError('UNKNOWN_WORKER', `no worker "${name}" at the nameservice (it may have expired more than a minute ago)`);
  const [worker] = joinWorkers([record], sources.containers(), sources.processes(), Date.now());
  const from = at - AROUND_MS;
  const to = at + AROUND_MS;
  const base = { worker: worker!, from, to };
  const container = worker!.container === null ? undefined : sources.containers().find((c) => c.id === worker!.container!.id);
  if (container !== undefined && sources.docker !== null) {
    const lines = await sources.docker.logsAround(container.id, from, to);
    return {
      ...base,
      source: 'docker',
      note: null,
      stats: { cpuPercent: container.cpuPercent, memoryBytes: container.memoryBytes, state: container.state },
      lines,
    };
  }
  // Under npm start the runner files each process's lines under its service name, which the worker
  // registered, with the pid that printed them: this worker's, not a restarted one's.
  const service = record.meta?.service ?? worker!.process?.name;
  if (service !== undefined && sources.runnerLogDir !== null) {
    const proc = sources.processes().find((p) => p.name === service);
    return {
      ...base,
      source: 'runner',
      note: null,
      stats: proc === undefined ? null : { cpuPercent: proc.cpuPercent, memoryBytes: proc.memoryBytes, state: proc.status },
      lines: await runnerLogsAround(sources.runnerLogDir, service, from, to, record.pid),
    };
  }
  return {
    ...base,
    source: null,
    note: 'no log source for this worker: its container is not in the watched Docker project, and it is not a process of npm start',
    stats: null,
    lines: [],
  };
}
