import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import {
  CHAOS_KEY_PURPOSE,
  DEFAULT_CHAOS_FOR_MS,
  RunnerChaosAnswer,
  TaskmeshError,
  answerError,
  callService,
  deriveKey,
  silentLogger,
  type ChaosAction,
  type ChaosFault,
  type ChaosRequest,
  type ChaosResponse,
  type ChaosStatus,
  type ContainerChaosRequest,
  type ProcessAction,
  type RunnerChaosRequest,
  type DatagramSend,
  type Logger,
  type WorkerRecord,
} from '@taskmesh/shared';

/**
 * Chaos controls, opt-in with TASKMESH_CHAOS=1. Loss is done here, on the dispatcher's own
 * transport: a share of the datagrams to and from one worker is dropped, each way, for a while.
 * Killing and pausing a process is its supervisor's: the runner under `npm start`, reached over the
 * IPC channel it gives each service, which only signals processes it started as workers; under
 * Compose, monitoring (it holds the Docker socket), reached with a request signed with
 * TASKMESH_SECRET, which only touches worker containers of the project it watches.
 */

/** Kills, pauses and resumes worker processes; `name` says whose hands they are in. */
export interface ProcessControl {
  readonly name: string;
  /** A pause lasts `forMs`: the supervisor resumes it by itself, so no pause outlives its caller. */
  act(action: ProcessAction, worker: WorkerRecord, forMs: number): Promise<string>;
}

interface Loss {
  worker: string;
  percent: number;
  until: number;
  dropped: number;
  /** The host:port keys it is found under. */
  keys: string[];
}

/**
 * Datagram loss per worker address (host:port), checked on every send and receive while any is
 * set. A worker registered by a host name is sent to by that name but heard from its address: its
 * loss is found under both.
 */
export class LinkFaults {
  private readonly byPeer = new Map<string, Loss>();

  constructor(private readonly random: () => number = Math.random) {}

  async set(worker: WorkerRecord, percent: number, until: number): Promise<void> {
    const hosts = new Set([worker.host]);
    if (isIP(worker.host) === 0) {
      try {
        for (const { address } of await lookup(worker.host, { all: true })) hosts.add(address);
      } catch (err) {
        throw new TaskmeshError('UNAVAILABLE', `worker ${worker.name}'s host "${worker.host}" does not resolve here`, { cause: err });
      }
    }
    for (const key of this.byPeer.get(`${worker.host}:${worker.port}`)?.keys ?? []) this.byPeer.delete(key);
    const loss: Loss = { worker: worker.name, percent, until, dropped: 0, keys: [...hosts].map((host) => `${host}:${worker.port}`) };
    for (const key of loss.keys) this.byPeer.set(key, loss);
  }

  /** Ends `worker`'s loss now; false when it had none. */
  clear(worker: string): boolean {
    for (const loss of new Set(this.byPeer.values())) {
      if (loss.worker !== worker) continue;
      for (const key of loss.keys) this.byPeer.delete(key);
      return true;
    }
    return false;
  }

  /** Whether to drop a datagram to or from host:port now. */
  readonly drops = (host: string, port: number): boolean => {
    if (this.byPeer.size === 0) return false;
    const loss = this.byPeer.get(`${host}:${port}`);
    if (loss === undefined) return false;
    if (Date.now() >= loss.until) {
      for (const key of loss.keys) this.byPeer.delete(key);
      return false;
    }
    if (this.random() * 100 >= loss.percent) return false;
    loss.dropped++;
    return true;
  };

  /** For UdpEndpoint's wrapSend: a dropped datagram is reported sent, as a lossy network would. */
  readonly wrapSend =
    (send: DatagramSend): DatagramSend =>
    (datagram, port, host, done) => {
      if (this.drops(host, port)) done(null);
      else send(datagram, port, host, done);
    };

  list(now: number): ChaosFault[] {
    const out: ChaosFault[] = [];
    for (const loss of new Set(this.byPeer.values())) {
      if (now >= loss.until) for (const key of loss.keys) this.byPeer.delete(key);
      else out.push({ worker: loss.worker, kind: 'loss', percent: loss.percent, until: loss.until, dropped: loss.dropped });
    }
    return out;
  }
}

/** How long the runner has to answer a kill or pause. */
const CONTROL_TIMEOUT_MS = 5000;

/** The runner's hands, over this process's IPC channel; null when not started by the runner. */
export function runnerControl(): ProcessControl | null {
  if (typeof process.send !== 'function' || process.channel === undefined) return null;
  const waiting = new Map<number, (answer: RunnerChaosAnswer) => void>();
  let next = 1;
  process.on('message', (m: unknown) => {
    const answer = RunnerChaosAnswer.safeParse(m);
    if (answer.success) waiting.get(answer.data.id)?.(answer.data);
  });
  // A message listener holds the channel open; the service still exits when its work is done.
  process.channel.unref();
  return {
    name: 'runner',
    act: (action, worker, forMs) =>
      new Promise((resolve, reject) => {
        if (worker.meta?.hostname !== hostname())
          throw new TaskmeshError('CONFLICT', `worker ${worker.name} does not run on this machine: the runner cannot signal it`);
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new TaskmeshError('UNAVAILABLE', `the runner did not answer a ${action} within ${CONTROL_TIMEOUT_MS} ms`));
        }, CONTROL_TIMEOUT_MS);
        waiting.set(id, ({ ok, message }) => {
          clearTimeout(timer);
          waiting.delete(id);
          if (ok) resolve(message);
          else reject(new TaskmeshError('CONFLICT', message));
        });
        const request: RunnerChaosRequest = { taskmesh: 'chaos', id, action, pid: worker.pid, forMs };
        process.send!(request);
      }),
  };
}

/** Monitoring's hands on Docker (TASKMESH_CHAOS_CONTROL_URL, e.g. http://monitoring:7300). */
export function dockerControl(baseUrl: string, secret: string): ProcessControl {
  const key = deriveKey(secret, CHAOS_KEY_PURPOSE);
  const url = new URL('/internal/chaos', baseUrl).href;
  return {
    name: 'docker',
    act: async (action, worker, forMs) => {
      const hostname = worker.meta?.hostname;
      if (hostname === undefined)
        throw new TaskmeshError('CONFLICT', `worker ${worker.name} did not register its hostname: no container to act on`);
      const request: ContainerChaosRequest = { action, worker: worker.name, hostname, forMs };
      const answer = await callService('monitoring', { method: 'POST', url, body: request, key, timeoutMs: CONTROL_TIMEOUT_MS });
      const done = (answer.body as { done?: unknown } | undefined)?.done;
      if (answer.status === 200 && typeof done === 'string') return done;
      // Monitoring's refusal (no such container, chaos off there) is this request's conflict, not the caller's fault.
      const error = answerError('monitoring', action, answer, baseUrl);
      throw error.code === 'UNAVAILABLE' ? error : new TaskmeshError('CONFLICT', `monitoring: ${error.message}`);
    },
  };
}

export interface ChaosOptions {
  enabled: boolean;
  faults: LinkFaults | null;
  control: ProcessControl | null;
  /** The nameservice's entry for a worker, whatever its state (a paused worker expires there). */
  findWorker: (name: string) => Promise<WorkerRecord | undefined>;
  logger?: Logger;
}

export class Chaos {
  private readonly logger: Logger;
  /** Paused workers, until their supervisor resumes them. */
  private readonly paused = new Map<string, { worker: WorkerRecord; until: number }>();

  constructor(private readonly options: ChaosOptions) {
    this.logger = options.logger ?? silentLogger();
  }

  status(now = Date.now()): ChaosStatus {
    for (const [name, p] of this.paused) if (now >= p.until) this.paused.delete(name);
    const pauses: ChaosFault[] = [...this.paused.values()].map((p) => ({
      worker: p.worker.name,
      kind: 'pause',
      percent: null,
      until: p.until,
      dropped: 0,
    }));
    return {
      enabled: this.options.enabled,
      supervisor: this.options.control?.name ?? null,
      faults: [...(this.options.faults?.list(now) ?? []), ...pauses],
    };
  }

  async act(action: ChaosAction, req: ChaosRequest): Promise<ChaosResponse> {
    if (!this.options.enabled)
      throw new TaskmeshError('FORBIDDEN', 'chaos controls are off: start the dispatcher with TASKMESH_CHAOS=1 to use them');
    const worker = this.paused.get(req.worker)?.worker ?? (await this.options.findWorker(req.worker));
    if (worker === undefined) throw new TaskmeshError('UNKNOWN_WORKER', `no worker named "${req.worker}" at the nameservice`);
    const forMs = req.forMs ?? DEFAULT_CHAOS_FOR_MS;
    const until = Date.now() + forMs;
    const lasting = action === 'pause' || action === 'loss';
    this.logger.warn(`chaos: ${action} ${worker.name}`, {
      event: 'chaos',
      action,
      worker: worker.name,
      ...(action === 'loss' ? { percent: req.percent } : {}),
      ...(lasting ? { forMs } : {}),
    });
    if (action === 'loss') {
      if (req.percent === undefined) throw new TaskmeshError('INVALID_REQUEST', 'loss needs a percent (1 to 100; 0 ends a loss)');
      if (req.percent === 0) {
        const ended = this.options.faults!.clear(worker.name);
        return { action, worker: worker.name, done: ended ? `no more loss on ${worker.name}` : `${worker.name} had no loss`, until: null };
      }
      await this.options.faults!.set(worker, req.percent, until);
      return { action, worker: worker.name, done: `dropping ${req.percent}% of datagrams to and from ${worker.name}`, until };
    }
    const control = this.options.control;
    if (control === null)
      throw new TaskmeshError(
        'CONFLICT',
        `nothing here can ${action} a process: kill, pause and resume work under npm start (the runner) and under Compose with TASKMESH_CHAOS_CONTROL_URL (monitoring); loss works everywhere`,
      );
    const done = await control.act(action, worker, forMs);
    if (action === 'pause') this.paused.set(worker.name, { worker, until });
    else this.paused.delete(worker.name);
    return { action, worker: worker.name, done, until: action === 'pause' ? until : null };
  }
}
