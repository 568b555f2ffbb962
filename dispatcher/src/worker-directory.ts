import {
  HEARTBEAT_INTERVAL_MS,
  backoffDelay,
  silentLogger,
  type BackoffPolicy,
  type LoadReport,
  type Logger,
  type WorkerRecord,
} from '@taskmesh/shared';

/** What the dispatcher knows about one worker between lookups. */
export interface WorkerView {
  readonly name: string;
  type: string;
  host: string;
  port: number;
  /** The worker's UDP endpoint id: frames are signed for it alone, and only it may answer. */
  endpointId: string | undefined;
  capacity: number;
  /** queued + inFlight in the worker's latest report (heartbeat via lookup, or an ack). */
  reportedCount: number;
  /** Our own in-flight count to this worker when that report was taken. */
  ownAtReport: number;
  /** Tasks this dispatcher has at the worker now. */
  ownInFlight: number;
  /** Not chosen before this time: it answered BUSY or lost a task. */
  avoidUntil: number;
  busyStreak: number;
  /** When the latest load report came with an acknowledgement (0: never). */
  ackReportAt: number;
  /** From the latest lookup: its last heartbeat at the nameservice and its state there. */
  lastHeartbeatAt: number;
  state: WorkerRecord['state'];
}

/** The load we expect at the worker now: others' load from its latest report, plus ours now. */
export function estimatedRatio(worker: WorkerView): number {
  const others = Math.max(0, worker.reportedCount - worker.ownAtReport);
  return (others + worker.ownInFlight) / worker.capacity;
}

export interface WorkerDirectoryOptions {
  lookup: (type: string) => Promise<WorkerRecord[]>;
  /** How long a lookup answer is used before it is refreshed. */
  cacheMs: number;
  /** Called after a lookup of `type` finished (with or without workers). */
  onRefreshed?: (type: string) => void;
  logger?: Logger;
  now?: () => number;
}

interface TypeEntry {
  workers: WorkerView[];
  fetchedAt: number;
  /** Set once a lookup succeeded at least once. */
  known: boolean;
  refreshing: boolean;
  failures: number;
}

/** After BUSY, a worker rests this long (growing with consecutive BUSY answers). */
const BUSY_BACKOFF: BackoffPolicy = { initialDelayMs: 20, maxDelayMs: 1000, factor: 2, jitter: 0.3 };
/** A worker that did not acknowledge or went silent is avoided this long (the nameservice expires it meanwhile). */
const LOST_AVOID_MS = 3000;
/**
 * An ack's load figure is fresher than a heartbeat relayed by the nameservice (up to a heartbeat
 * interval plus the cache age old). Right after a burst the heartbeat still shows the burst while
 * our count is back to 0, which would read as load from other clients; so heartbeats only replace
 * ack figures older than this.
 */
const ACK_REPORT_TRUST_MS = 2 * HEARTBEAT_INTERVAL_MS;
/** While the nameservice is unreachable, lookups are retried this often at most. */
const LOOKUP_RETRY_MS = 500;

/**
 * The nameservice's answers per type, cached for `cacheMs` and refreshed in the background
 * (stale-while-revalidate: the hot path never waits for the nameservice once a type was looked up).
 * It also keeps the dispatcher's own in-flight count per worker, which routing adds to reported load.
 */
export class WorkerDirectory {
  private readonly types = new Map<string, TypeEntry>();
  private readonly byName = new Map<string, WorkerView>();
  private readonly logger: Logger;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: WorkerDirectoryOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  /**
   * The cached workers of a type; starts a refresh when the answer is stale. `undefined` until the
   * first lookup of the type finished: the caller waits for onRefreshed.
   */
  candidates(type: string): WorkerView[] | undefined {
    let entry = this.types.get(type);
    if (entry === undefined) {
      entry = { workers: [], fetchedAt: 0, known: false, refreshing: false, failures: 0 };
      this.types.set(type, entry);
    }
    const age = this.now() - entry.fetchedAt;
    const maxAge = entry.failures > 0 ? Math.max(this.options.cacheMs, LOOKUP_RETRY_MS) : this.options.cacheMs;
    if (age >= maxAge && !entry.refreshing) void this.refresh(type, entry);
    return entry.known ? entry.workers : undefined;
  }

  /** Forces the next candidates() call to look the type up again. */
  invalidate(type: string): void {
    const entry = this.types.get(type);
    if (entry !== undefined && entry.failures === 0) entry.fetchedAt = 0;
  }

  get(name: string): WorkerView | undefined {
    return this.byName.get(name);
  }

  startTask(worker: WorkerView): void {
    worker.ownInFlight++;
  }

  endTask(worker: WorkerView): void {
    worker.ownInFlight = Math.max(0, worker.ownInFlight - 1);
  }

  /** A fresher load figure, from an acknowledgement. */
  reportLoad(worker: WorkerView, load: LoadReport): void {
    worker.reportedCount = load.queued + load.inFlight;
    worker.capacity = load.capacity;
    worker.ownAtReport = worker.ownInFlight;
    worker.ackReportAt = this.now();
    worker.busyStreak = 0;
  }

  /** The worker answered BUSY: rest it with a growing, jittered delay. */
  reportBusy(worker: WorkerView, load: LoadReport): void {
    const streak = worker.busyStreak;
    this.reportLoad(worker, load);
    worker.avoidUntil = this.now() + backoffDelay(BUSY_BACKOFF, streak);
    worker.busyStreak = streak + 1;
  }

  /** The worker did not acknowledge or went silent: avoid it and look the type up again. */
  reportLost(worker: WorkerView): void {
    worker.avoidUntil = this.now() + LOST_AVOID_MS;
    this.invalidate(worker.type);
  }

  /**
   * The nameservice said the worker is down (pushed): it leaves its type's candidates now and is
   * avoided until a lookup lists it live again. Returns its view, for failing its dispatches.
   */
  markDown(name: string): WorkerView | undefined {
    const worker = this.byName.get(name);
    if (worker === undefined) return undefined;
    worker.state = 'expired';
    worker.avoidUntil = this.now() + LOST_AVOID_MS;
    const entry = this.types.get(worker.type);
    if (entry !== undefined) entry.workers = entry.workers.filter((w) => w !== worker);
    return worker;
  }

  /** A worker of `type` is up (pushed): look the type up now, so it gets tasks at once. */
  refreshNow(type: string): void {
    const entry = this.types.get(type);
    if (entry === undefined) return;
    entry.fetchedAt = 0;
    this.candidates(type);
  }

  /** Every type is looked up again at its next use (the push stream reconnected: changes may be missed). */
  invalidateAll(): void {
    for (const entry of this.types.values()) entry.fetchedAt = 0;
  }

  close(): void {
    this.closed = true;
  }

  private async refresh(type: string, entry: TypeEntry): Promise<void> {
    entry.refreshing = true;
    try {
      const records = await this.options.lookup(type);
      if (this.closed) return;
      entry.workers = records.filter((r) => r.state === 'live').map((r) => this.merge(r));
      entry.known = true;
      entry.failures = 0;
      this.forgetIdle(type, entry.workers);
    } catch (err) {
      entry.failures++;
      // Keep the previous answer: the workers are probably still there even if the nameservice is not.
      if (entry.failures === 1) this.logger.warn('worker lookup failed', { type, error: err instanceof Error ? err.message : String(err) });
    } finally {
      entry.fetchedAt = this.now();
      entry.refreshing = false;
    }
    if (!this.closed) this.options.onRefreshed?.(type);
  }

  private merge(r: WorkerRecord): WorkerView {
    let w = this.byName.get(r.name);
    if (w === undefined) {
      w = {
        name: r.name,
        type: r.type,
        host: r.host,
        port: r.port,
        endpointId: r.endpointId,
        capacity: r.load.capacity,
        reportedCount: 0,
        ownAtReport: 0,
        ownInFlight: 0,
        avoidUntil: 0,
        busyStreak: 0,
        ackReportAt: 0,
        lastHeartbeatAt: r.lastHeartbeatAt,
        state: r.state,
      };
      this.byName.set(r.name, w);
    }
    w.type = r.type;
    w.lastHeartbeatAt = r.lastHeartbeatAt;
    // Listed live again after a push said it was down (its lease ran out, then it came back): no longer avoided.
    if (w.state === 'expired' && r.state === 'live') w.avoidUntil = 0;
    w.state = r.state;
    w.host = r.host;
    w.port = r.port;
    w.endpointId = r.endpointId;
    if (this.now() - w.ackReportAt > ACK_REPORT_TRUST_MS) {
      w.capacity = Math.max(1, r.load.capacity);
      // Our count now is the best guess of how many of ours the heartbeat included.
      w.reportedCount = r.load.queued + r.load.inFlight;
      w.ownAtReport = w.ownInFlight;
    }
    return w;
  }

  /** Drops views of workers no longer listed for a type once none of our tasks is at them. */
  private forgetIdle(type: string, listed: WorkerView[]): void {
    const keep = new Set(listed.map((w) => w.name));
    for (const [name, w] of this.byName) {
      if (w.type === type && !keep.has(name) && w.ownInFlight === 0) this.byName.delete(name);
    }
  }
}
