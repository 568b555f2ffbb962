import { EventEmitter } from 'node:events';
import { dockerLogLines, type LogLine } from './worker-logs.js';
import { PassThrough, type Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import type Dockerode from 'dockerode';
import { TaskmeshError, type Logger, type ProcessAction } from '@taskmesh/shared';
import { describeError, pollLoop, type UpstreamStatus } from './poll-loop.js';
import {
  containerView,
  dockerEventView,
  isInterestingAction,
  projectOf,
  serviceOf,
  statsSample,
  type ContainerView,
  type DockerEventView,
  type StatsSample,
} from './docker-view.js';

/** A Compose project (or Swarm stack) is taskmesh's, when none is configured, if it runs one of these services. */
export const TASKMESH_CORE_SERVICES = ['nameservice', 'dispatcher'] as const;

/** How the projects shown were chosen. */
export type ProjectSource = 'env' | 'self' | 'detected';

export interface DockerStatus extends UpstreamStatus {
  /** The Compose projects whose containers are shown. */
  projects: string[];
  projectSource: ProjectSource | null;
}

export interface DockerSourceOptions {
  /** Read endpoints (ping, list, inspect, stats, logs, events); with chaos controls on, kill, pause and unpause of worker containers. */
  docker: Dockerode;
  /** TASKMESH_COMPOSE_PROJECT; when unset the project is that of our own container, or detected. */
  project?: string;
  /** os.hostname(): inside a container it is the container's id (or its configured hostname). */
  selfHostname: string;
  intervalMs: number;
  logger: Logger;
}

/** While Docker is unreachable, retry at most this often. */
const RECONNECT_MS = 3000;
/** Stats arrive once a second per container; the containers snapshot is emitted at most this often. */
const EMIT_THROTTLE_MS = 500;

/**
 * Watches the suite's containers through the Docker API: lists and inspects them on every poll
 * and on every container event, keeps one streaming stats request open per running container,
 * and relays container events. Emits `status`, `containers` (the full list, stopped ones
 * included) and `event`.
 */
export class DockerSource extends EventEmitter<{ status: [DockerStatus]; containers: [ContainerView[]]; event: [DockerEventView] }> {
  private statusValue: DockerStatus = {
    connected: false,
    error: 'not connected yet',
    since: Date.now(),
    projects: [],
    projectSource: null,
  };
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private containers = new Map<string, { info: Dockerode.ContainerInfo; inspect: Dockerode.ContainerInspectInfo | undefined }>();
  private readonly stats = new Map<string, StatsSample>();
  private readonly statsStreams = new Map<string, AbortController>();
  private events: AbortController | undefined;
  /** The project of our own container, once looked up; null: we do not run in one. */
  private selfProject: string | null | undefined;
  private emitTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Refreshes overlap (poll and event); only the latest started one may apply its answer. */
  private refreshSeq = 0;

  constructor(private readonly options: DockerSourceOptions) {
    super();
  }

  get status(): DockerStatus {
    return this.statusValue;
  }

  get list(): ContainerView[] {
    const now = Date.now();
    return [...this.containers.values()]
      .map(({ info, inspect }) => containerView(info, inspect, this.stats.get(info.Id), now))
      .sort((a, b) => (a.service ?? a.name).localeCompare(b.service ?? b.name) || a.name.localeCompare(b.name));
  }

  start(): void {
    this.loop ??= pollLoop(() => this.refresh(), {
      intervalMs: () => (this.statusValue.connected ? this.options.intervalMs : RECONNECT_MS),
      signal: this.abort.signal,
    });
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.emitTimer);
    clearTimeout(this.refreshTimer);
    this.teardown();
    await this.loop;
  }

  /**
   * Chaos controls (TASKMESH_CHAOS=1, a signed request from the dispatcher): kills, pauses or
   * resumes the worker container of the watched project whose hostname the worker registered. A
   * pause is resumed by itself after `forMs`. Returns what was done.
   */
  async control(action: ProcessAction, hostname: string, forMs: number): Promise<string> {
    const entry = [...this.containers.values()].find(
      ({ info, inspect }) => inspect?.Config.Hostname === hostname && (serviceOf(info.Labels) ?? '').startsWith('worker'),
    );
    if (entry === undefined) throw new TaskmeshError('NOT_FOUND', `no worker container with hostname "${hostname}" in the watched project`);
    const container = this.options.docker.getContainer(entry.info.Id);
    const name = (entry.info.Names[0] ?? entry.info.Id).replace(/^\//, '');
    if (action === 'kill') {
      await container.kill();
      return `container ${name} killed by monitoring`;
    }
    if (action === 'resume') {
      await container.unpause();
      return `container ${name} resumed (docker unpause) by monitoring`;
    }
    await container.pause();
    setTimeout(() => void container.unpause().catch(() => undefined), forMs).unref();
    return `container ${name} paused (docker pause) for ${forMs} ms by monitoring`;
  }

  /** Resumes every paused worker container of the watched project (a pause whose timer was lost with a restart). */
  async resumePausedWorkers(): Promise<string[]> {
    const paused = [...this.containers.values()].filter(
      ({ info }) => info.State === 'paused' && (serviceOf(info.Labels) ?? '').startsWith('worker'),
    );
    await Promise.all(
      paused.map(({ info }) =>
        this.options.docker
          .getContainer(info.Id)
          .unpause()
          .catch(() => undefined),
      ),
    );
    return paused.map(({ info }) => info.Id);
  }

  /** A container's lines between `from` and `to` (ms), for a task's page. Only the shown projects' containers. */
  async logsAround(id: string, from: number, to: number): Promise<LogLine[]> {
    const known = [...this.containers.keys()].find((k) => k === id || (id.length >= 6 && k.startsWith(id)));
    if (!known) throw new TaskmeshError('NOT_FOUND', `no container "${id}" in the monitored Compose project`);
    const container = this.options.docker.getContainer(known);
    const inspect = await container.inspect();
    const raw = await container.logs({
      follow: false,
      stdout: true,
      stderr: true,
      timestamps: true,
      since: Math.floor(from / 1000),
      until: Math.ceil(to / 1000),
    });
    return dockerLogLines(raw, inspect.Config.Tty === true).filter((l) => l.at >= from && l.at <= to);
  }

  /**
   * Streams a container's log lines (stdout and stderr demultiplexed) until `signal` aborts or
   * the container's log ends. Only containers of the shown projects can be read.
   */
  async followLogs(
    id: string,
    options: { tail: number; signal: AbortSignal; onLine: (line: { stream: 'stdout' | 'stderr'; text: string }) => void },
  ): Promise<void> {
    const known = [...this.containers.keys()].find((k) => k === id || (id.length >= 6 && k.startsWith(id)));
    if (!known) throw new TaskmeshError('NOT_FOUND', `no container "${id}" in the monitored Compose project`);
    const container = this.options.docker.getContainer(known);
    const inspect = await container.inspect();
    const raw = (await container.logs({
      follow: true,
      stdout: true,
      stderr: true,
      tail: options.tail,
      abortSignal: options.signal,
    })) as Readable;
    const lines = (stream: Readable, name: 'stdout' | 'stderr'): void => {
      createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (text) => options.onLine({ stream: name, text }))
        .on('error', () => undefined); // an aborted stream: the promise below resolves on 'close'
    };
    if (inspect.Config.Tty) lines(raw, 'stdout');
    else {
      // Without a TTY Docker multiplexes both streams into one with 8-byte frame headers.
      const out = new PassThrough();
      const err = new PassThrough();
      this.options.docker.modem.demuxStream(raw, out, err);
      lines(out, 'stdout');
      lines(err, 'stderr');
      raw.on('end', () => {
        out.end();
        err.end();
      });
    }
    await new Promise<void>((resolve) => {
      raw.once('end', resolve);
      raw.once('close', resolve);
      raw.once('error', () => resolve());
      options.signal.addEventListener('abort', () => {
        raw.destroy();
        resolve();
      });
    });
  }

  private async refresh(): Promise<void> {
    const { docker } = this.options;
    const seq = ++this.refreshSeq;
    try {
      // Docker ANDs label filters, and Compose and Swarm label differently: filter here instead.
      const all = (await docker.listContainers({ all: true })).filter((c) => projectOf(c.Labels) !== null);
      const { projects, source } = await this.chooseProjects(all);
      const mine = all.filter((c) => projects.includes(projectOf(c.Labels)!));
      const inspected = await Promise.all(
        mine.map((info) =>
          docker
            .getContainer(info.Id)
            .inspect()
            .catch(() => undefined),
        ),
      );
      if (seq !== this.refreshSeq || this.abort.signal.aborted) return;
      this.containers = new Map(mine.map((info, i) => [info.Id, { info, inspect: inspected[i] }]));
      this.syncStats();
      if (!this.events) this.openEvents();
      this.setStatus({
        connected: true,
        since: this.statusValue.connected ? this.statusValue.since : Date.now(),
        projects,
        projectSource: source,
      });
      this.emitContainers(true);
    } catch (err) {
      if (this.abort.signal.aborted || seq !== this.refreshSeq) return;
      this.teardown();
      const error = withSocketHint(describeError(err));
      if (this.statusValue.connected || this.statusValue.error !== error) this.options.logger.warn('docker unreachable', { error });
      this.setStatus({
        ...this.statusValue,
        connected: false,
        error,
        since: this.statusValue.connected ? Date.now() : this.statusValue.since,
      });
    }
  }

  private async chooseProjects(all: Dockerode.ContainerInfo[]): Promise<{ projects: string[]; source: ProjectSource | null }> {
    if (this.options.project) return { projects: [this.options.project], source: 'env' };
    if (this.selfProject === undefined) {
      try {
        const self = await this.options.docker.getContainer(this.options.selfHostname).inspect();
        this.selfProject = projectOf(self.Config.Labels);
      } catch (err) {
        // 404: our hostname is no container's, so we run on the host; anything else is retried.
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        this.selfProject = null;
      }
    }
    if (this.selfProject) return { projects: [this.selfProject], source: 'self' };
    const core: readonly string[] = TASKMESH_CORE_SERVICES;
    const projects = new Set<string>();
    for (const c of all) {
      const project = projectOf(c.Labels);
      if (project && core.includes(serviceOf(c.Labels) ?? '')) projects.add(project);
    }
    return { projects: [...projects].sort(), source: projects.size > 0 ? 'detected' : null };
  }

  /** One streaming stats request per running container; stopped containers lose theirs. */
  private syncStats(): void {
    const running = new Set(
      [...this.containers.values()].filter((c) => (c.inspect?.State.Status ?? c.info.State) === 'running').map((c) => c.info.Id),
    );
    for (const [id, ac] of this.statsStreams) {
      if (!running.has(id)) {
        ac.abort();
        this.statsStreams.delete(id);
        this.stats.delete(id);
      }
    }
    for (const id of running) {
      if (this.statsStreams.has(id)) continue;
      const ac = new AbortController();
      this.statsStreams.set(id, ac);
      this.options.docker
        .getContainer(id)
        .stats({ stream: true, abortSignal: ac.signal } as { stream: true })
        .then((stream) => {
          jsonLines(stream as Readable, (value) => {
            this.stats.set(id, statsSample(value as Dockerode.ContainerStats));
            this.emitContainers(false);
          });
          (stream as Readable).on('close', () => {
            if (this.statsStreams.get(id) === ac) this.statsStreams.delete(id);
          });
        })
        .catch(() => {
          // The container stopped between list and stats; the next refresh sorts it out.
          if (this.statsStreams.get(id) === ac) this.statsStreams.delete(id);
        });
    }
  }

  private openEvents(): void {
    const ac = new AbortController();
    this.events = ac;
    const lost = (): void => {
      if (this.events === ac) this.events = undefined;
    };
    this.options.docker
      .getEvents({ filters: { type: ['container'] }, abortSignal: ac.signal } as Dockerode.GetEventsOptions)
      .then((stream) => {
        jsonLines(stream as Readable, (raw) => this.onEvent(raw));
        (stream as Readable).on('close', lost);
        (stream as Readable).on('error', lost);
      })
      .catch(lost);
  }

  private onEvent(raw: unknown): void {
    const event = dockerEventView(raw);
    if (!event || !isInterestingAction(event.action)) return;
    const project = projectOf((raw as { Actor?: { Attributes?: Record<string, string> } }).Actor?.Attributes);
    const watching = this.statusValue.projects;
    // With nothing chosen yet, a new Compose project may be starting: refresh to detect it.
    if (watching.length > 0 && (project === null || !watching.includes(project))) return;
    if (watching.length > 0) this.emit('event', event);
    // Coalesce bursts (compose up starts many containers at once) into one refresh.
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 100);
  }

  private emitContainers(now: boolean): void {
    if (now) {
      clearTimeout(this.emitTimer);
      this.emitTimer = undefined;
      this.emit('containers', this.list);
      return;
    }
    this.emitTimer ??= setTimeout(() => {
      this.emitTimer = undefined;
      if (!this.abort.signal.aborted) this.emit('containers', this.list);
    }, EMIT_THROTTLE_MS);
  }

  private setStatus(next: DockerStatus): void {
    if (!this.statusValue.connected && next.connected)
      this.options.logger.info('docker connected', { projects: next.projects, projectSource: next.projectSource });
    this.statusValue = next;
    this.emit('status', next);
  }

  private teardown(): void {
    this.events?.abort();
    this.events = undefined;
    for (const ac of this.statsStreams.values()) ac.abort();
    this.statsStreams.clear();
    this.stats.clear();
  }
}

/** Calls `onValue` with each JSON value of a newline-delimited JSON stream; bad lines are skipped. */
function jsonLines(stream: Readable, onValue: (value: unknown) => void): void {
  // Aborting (container stopped, source closed) errors the stream and the line reader: expected.
  stream.on('error', () => undefined);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('error', () => undefined);
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    try {
      onValue(JSON.parse(line));
    } catch {
      // A partial line at disconnect; nothing to show.
    }
  });
}

/**
 * What to do about a Docker socket that does not answer, in the dashboard's words. Monitoring's
 * image joins the socket's group by itself; a refusal after that means the process was not
 * started as root (a `user:` in the compose file), or a proxy or the socket's mode is in the way.
 */
export function withSocketHint(error: string): string {
  if (/EACCES/.test(error)) {
    return `${error} (this process is not in the socket's group: start the monitoring image as it is, without a user: override, so it joins the group by itself, or set DOCKER_GID=$(stat -c %g /var/run/docker.sock) in .env)`;
  }
  if (/ENOENT/.test(error)) return `${error} (no Docker socket here: mount /var/run/docker.sock, or point DOCKER_HOST at a socket proxy)`;
  if (/ECONNREFUSED/.test(error)) return `${error} (nothing answers at DOCKER_HOST: is the Docker engine, or its socket proxy, running?)`;
  return error;
}
