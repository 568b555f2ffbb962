import {
  TaskmeshError,
  WATCH_PING_INTERVAL_MS,
  backoffDelay,
  delay,
  silentLogger,
  type Address,
  type BackoffPolicy,
  type Logger,
  type NameserviceClient,
  type RegistryChange,
} from '@taskmesh/shared';
import type { WorkerDirectory } from './worker-directory.js';

/** Reconnecting to the nameservice's watch stream: quick at first, then every few seconds. */
const RECONNECT_BACKOFF: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

export interface RegistryFollowerOptions {
  nameservice: NameserviceClient;
  directory: WorkerDirectory;
  /** Settles every dispatch to a peer now (TaskCaller.failPeer). */
  failPeer: (peer: Address, reason: TaskmeshError) => number;
  /** A worker of this type came up (the type catalog learns a new type at once). */
  typeUp?: (type: string) => void;
  logger?: Logger;
}

/** What the follower has seen (in /v1/stats). */
export interface FollowerStats {
  /** Whether the watch stream is open now. */
  registryWatching: boolean;
  /** Down changes heard for workers this dispatcher knew. */
  workersDown: number;
  /** Dispatches settled at once (WORKER_LOST) because their worker was reported down. */
  tasksFailedOver: number;
}

/**
 * Failover by push: holds the nameservice's watch stream open (reconnecting with backoff) and acts
 * on each change at once. A worker down leaves the candidates; one reported down by its supervisor
 * has lost its in-flight tasks, which are settled now (WORKER_LOST: the runner dispatches them
 * again elsewhere); a worker up makes its type be looked up now. A silent worker (SIGSTOP, a cut cable) is not reported by anyone: the keep-alive timeout
 * still catches it.
 */
export class RegistryFollower {
  private readonly logger: Logger;
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly counts: FollowerStats = { registryWatching: false, workersDown: 0, tasksFailedOver: 0 };

  constructor(private readonly options: RegistryFollowerOptions) {
    this.logger = options.logger ?? silentLogger();
  }

  start(): void {
    this.loop ??= this.run();
  }

  stats(): FollowerStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopper.signal.aborted) {
      let opened = false;
      try {
        await this.options.nameservice.watch(
          (change) => {
            if (!opened) failures = 0;
            opened = true;
            this.apply(change);
          },
          { signal: this.stopper.signal, silenceMs: 3 * WATCH_PING_INTERVAL_MS },
        );
      } catch (err) {
        if (failures === 0)
          this.logger.warn('nameservice watch failed; failover waits for lookups until it reconnects', { error: String(err) });
      }
      this.counts.registryWatching = false;
      if (this.stopper.signal.aborted) return;
      await delay(backoffDelay(RECONNECT_BACKOFF, failures++), this.stopper.signal).catch(() => undefined);
    }
  }

  private apply(change: RegistryChange): void {
    const { directory } = this.options;
    switch (change.kind) {
      case 'hello':
        // Changes while the stream was closed are unknown: every type is looked up again.
        this.counts.registryWatching = true;
        directory.invalidateAll();
        return;
      case 'ping':
        return;
      case 'up':
        directory.refreshNow(change.type);
        this.options.typeUp?.(change.type);
        return;
      case 'down': {
        const worker = directory.markDown(change.name);
        if (worker === undefined) return;
        this.counts.workersDown++;
        // Only a worker seen to end has lost its tasks: one leaving drains them, and one whose lease
        // ran out may only have lost the nameservice (the keep-alive timeout tells if it is gone).
        if (change.cause !== 'reported') return;
        const lost = this.options.failPeer(
          { host: worker.host, port: worker.port, id: worker.endpointId },
          new TaskmeshError('WORKER_LOST', `worker ${change.name} is down (${change.reason})`),
        );
        this.counts.tasksFailedOver += lost;
        if (lost > 0) this.logger.info('worker down: its tasks go elsewhere', { worker: change.name, reason: change.reason, tasks: lost });
        return;
      }
      default: {
        const never: never = change;
        return never;
      }
    }
  }
}
