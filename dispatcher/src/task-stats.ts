import { TaskStatus } from '@taskmesh/shared';

/** Seconds of throughput history kept (one bucket per second). */
const THROUGHPUT_WINDOW_S = 300;
/** Latency percentiles are taken over the last this many finished tasks ... */
const LATENCY_SAMPLES = 4096;
/** ... that finished within this window. */
const LATENCY_WINDOW_MS = 60_000;

type Counts = Record<TaskStatus, number>;
const zero = (): Counts => ({ queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 });

/** GET /v1/stats (documented in ARCHITECTURE.md). */
export interface StatsSnapshot {
  at: number;
  /** Per type: queued and running now; succeeded, failed and cancelled since start. */
  types: Record<string, Counts>;
  totals: Counts;
  pending: number;
  inFlight: number;
  throughput: {
    bucketMs: 1000;
    /** Tasks finished in each of the last THROUGHPUT_WINDOW_S seconds, oldest first; the last is the current second. */
    perSecond: number[];
    /** Averages over the last complete 10 s and 60 s. */
    last10s: number;
    last60s: number;
  };
  latencyMs: { windowMs: number; samples: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
}

/**
 * Counters behind GET /v1/stats: status counts per type (updated on every transition, O(1)),
 * a ring of one-second buckets of finished tasks, and a ring of recent latencies.
 */
export class TaskStats {
  private readonly counts = new Map<string, Counts>();
  private readonly buckets = new Float64Array(THROUGHPUT_WINDOW_S);
  private readonly bucketSecond = new Float64Array(THROUGHPUT_WINDOW_S);
  private readonly latency = new Float64Array(LATENCY_SAMPLES);
  private readonly latencyAt = new Float64Array(LATENCY_SAMPLES);
  private latencyNext = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private of(type: string): Counts {
    let c = this.counts.get(type);
    if (c === undefined) {
      c = zero();
      this.counts.set(type, c);
    }
    return c;
  }

  /** A task moved from `from` (null when new) to `to`. */
  transition(type: string, from: TaskStatus | null, to: TaskStatus): void {
    const c = this.of(type);
    // Final counts are cumulative: a retried task leaves `failed` but stays counted there.
    if (from === 'queued' || from === 'running') c[from]--;
    c[to]++;
  }

  /** A task finished after `latencyMs`. */
  finished(latencyMs: number): void {
    const now = this.now();
    const second = Math.floor(now / 1000);
    const i = second % THROUGHPUT_WINDOW_S;
    if (this.bucketSecond[i] !== second) {
      this.bucketSecond[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]!++;
    const j = this.latencyNext++ % LATENCY_SAMPLES;
    this.latency[j] = latencyMs;
    this.latencyAt[j] = now;
  }

  snapshot(pending: number, inFlight: number): StatsSnapshot {
    const now = this.now();
    const types: Record<string, Counts> = {};
    const totals = zero();
    for (const [type, c] of this.counts) {
      types[type] = { ...c };
      for (const s of TaskStatus.options) totals[s] += c[s];
    }
    const second = Math.floor(now / 1000);
    const perSecond: number[] = [];
    for (let s = second - THROUGHPUT_WINDOW_S + 1; s <= second; s++) {
      const i = s % THROUGHPUT_WINDOW_S;
      perSecond.push(this.bucketSecond[i] === s ? this.buckets[i]! : 0);
    }
    const avg = (n: number): number => perSecond.slice(-1 - n, -1).reduce((a, b) => a + b, 0) / n;
    const recent: number[] = [];
    const filled = Math.min(this.latencyNext, LATENCY_SAMPLES);
    for (let k = 0; k < filled; k++) if (now - this.latencyAt[k]! <= LATENCY_WINDOW_MS) recent.push(this.latency[k]!);
    recent.sort((a, b) => a - b);
    const pct = (p: number): number | null =>
      recent.length === 0 ? null : round(recent[Math.min(recent.length - 1, Math.ceil((p / 100) * recent.length) - 1)]!);
    return {
      at: now,
      types,
      totals,
      pending,
      inFlight,
      throughput: { bucketMs: 1000, perSecond, last10s: avg(10), last60s: avg(60) },
      latencyMs: {
        windowMs: LATENCY_WINDOW_MS,
        samples: recent.length,
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        max: recent.length === 0 ? null : round(recent[recent.length - 1]!),
      },
    };
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
