import type Dockerode from 'dockerode';

/**
 * Pure conversions from Docker API answers to what the dashboard shows, kept apart from the
 * streaming code so they can be tested on recorded answers.
 */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';
/** `docker stack deploy` (Swarm) labels its containers with these instead. */
const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';
const SWARM_SERVICE_LABEL = 'com.docker.swarm.service.name';

/** The Compose project, or the Swarm stack, a container belongs to. */
export function projectOf(labels: Record<string, string> | undefined): string | null {
  return labels?.[COMPOSE_PROJECT_LABEL] ?? labels?.[STACK_NAMESPACE_LABEL] ?? null;
}

/** The Compose service, or the Swarm service without its `<stack>_` prefix. */
export function serviceOf(labels: Record<string, string> | undefined): string | null {
  const compose = labels?.[COMPOSE_SERVICE_LABEL];
  if (compose) return compose;
  const swarm = labels?.[SWARM_SERVICE_LABEL];
  const stack = labels?.[STACK_NAMESPACE_LABEL];
  if (!swarm) return null;
  return stack && swarm.startsWith(`${stack}_`) ? swarm.slice(stack.length + 1) : swarm;
}

/** One container of the suite as `/api/containers` returns it. */
export interface ContainerView {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** The Compose (or Swarm stack) service, or null. */
  service: string | null;
  project: string | null;
  image: string;
  /** Docker's state: created, running, paused, restarting, exited, removing, dead. */
  state: string;
  /** Docker's human summary, e.g. "Up 5 minutes (healthy)". */
  status: string;
  /** From the healthcheck, or null when the container has none. */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Uptime while running. */
  uptimeMs: number | null;
  exitCode: number | null;
  restartCount: number;
  /** Percent of one core (as `docker stats` shows it); null while not running or not sampled yet. */
  cpuPercent: number | null;
  /** Memory in use without the page cache (as `docker stats` computes it). */
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  /** The container's hostname and network addresses, used to join workers to containers. */
  hostname: string;
  ipAddresses: string[];
}

export interface StatsSample {
  cpuPercent: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
}

/** Docker's zero time ("0001-01-01T00:00:00Z") means "never". */
export function dockerTime(value: string | undefined): number | null {
  if (!value || value.startsWith('0001-')) return null;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : null;
}

/** CPU and memory from one stats sample, computed the way the docker CLI does. */
export function statsSample(stats: Dockerode.ContainerStats): StatsSample {
  const cpu = stats.cpu_stats;
  const pre = stats.precpu_stats;
  let cpuPercent: number | null = null;
  if (cpu?.cpu_usage && pre?.cpu_usage && typeof cpu.system_cpu_usage === 'number' && typeof pre.system_cpu_usage === 'number') {
    const cpuDelta = cpu.cpu_usage.total_usage - pre.cpu_usage.total_usage;
    const systemDelta = cpu.system_cpu_usage - pre.system_cpu_usage;
    const cpus = cpu.online_cpus || cpu.cpu_usage.percpu_usage?.length || 1;
    if (systemDelta > 0 && cpuDelta >= 0) cpuPercent = Math.round((cpuDelta / systemDelta) * cpus * 1000) / 10;
  }
  const mem = stats.memory_stats as { usage?: number; limit?: number; stats?: Record<string, number> } | undefined;
  let memoryBytes: number | null = null;
  if (mem && typeof mem.usage === 'number') {
    // cgroup v1 reports total_inactive_file, v2 inactive_file; the CLI subtracts it as cache.
    const s = mem.stats ?? {};
    const cache = s.total_inactive_file ?? s.inactive_file ?? 0;
    memoryBytes = Math.max(0, mem.usage - (cache < mem.usage ? cache : 0));
  }
  const memoryLimitBytes = mem && typeof mem.limit === 'number' && mem.limit > 0 ? mem.limit : null;
  return { cpuPercent, memoryBytes, memoryLimitBytes };
}

/** Builds the view of one container from its list entry, its inspect answer and its last stats. */
export function containerView(
  info: Dockerode.ContainerInfo,
  inspect: Dockerode.ContainerInspectInfo | undefined,
  stats: StatsSample | undefined,
  now: number,
): ContainerView {
  const labels = info.Labels ?? {};
  const state = inspect?.State.Status ?? info.State;
  const running = state === 'running';
  const startedAt = dockerTime(inspect?.State.StartedAt);
  const health = inspect?.State.Health?.Status;
  const networks = inspect?.NetworkSettings.Networks ?? info.NetworkSettings?.Networks ?? {};
  return {
    id: info.Id,
    name: (info.Names[0] ?? info.Id.slice(0, 12)).replace(/^\//, ''),
    service: serviceOf(labels),
    project: projectOf(labels),
    image: info.Image,
    state,
    status: info.Status,
    health: health === 'starting' || health === 'healthy' || health === 'unhealthy' ? health : null,
    startedAt,
    finishedAt: running ? null : dockerTime(inspect?.State.FinishedAt),
    uptimeMs: running && startedAt !== null ? Math.max(0, now - startedAt) : null,
    exitCode: running || !inspect ? null : inspect.State.ExitCode,
    restartCount: inspect?.RestartCount ?? 0,
    cpuPercent: running ? (stats?.cpuPercent ?? null) : null,
    memoryBytes: running ? (stats?.memoryBytes ?? null) : null,
    memoryLimitBytes: running ? (stats?.memoryLimitBytes ?? null) : null,
    hostname: inspect?.Config.Hostname ?? info.Id.slice(0, 12),
    ipAddresses: Object.values(networks)
      .map((n) => n.IPAddress)
      .filter((ip): ip is string => typeof ip === 'string' && ip !== ''),
  };
}

/** One entry of the Docker events feed. */
export interface DockerEventView {
  at: number;
  /** e.g. start, die, restart, oom, health_status: unhealthy */
  action: string;
  id: string;
  name: string | null;
  service: string | null;
  exitCode: number | null;
}

/** Health checks run `exec` every few seconds; those events are noise on the feed. */
export const isInterestingAction = (action: string): boolean => !action.startsWith('exec_') && action !== 'top';

export function dockerEventView(raw: unknown): DockerEventView | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const e = raw as {
    Type?: unknown;
    Action?: unknown;
    Actor?: { ID?: unknown; Attributes?: Record<string, string> };
    timeNano?: unknown;
    time?: unknown;
  };
  if (e.Type !== 'container' || typeof e.Action !== 'string' || typeof e.Actor?.ID !== 'string') return null;
  const attrs = e.Actor.Attributes ?? {};
  const at = typeof e.timeNano === 'number' ? Math.round(e.timeNano / 1e6) : typeof e.time === 'number' ? e.time * 1000 : Date.now();
  const exit = attrs.exitCode === undefined ? NaN : Number(attrs.exitCode);
  return {
    at,
    action: e.Action,
    id: e.Actor.ID,
    name: attrs.name ?? null,
    service: serviceOf(attrs),
    exitCode: Number.isInteger(exit) ? exit : null,
  };
}
