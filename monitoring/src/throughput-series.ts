import { z } from 'zod';

/**
 * The parts of the dispatcher's GET /v1/stats answer the dashboard reads, parsed at the edge.
 * Unknown fields pass through untouched.
 */
const Counts = z.object({ succeeded: z.number(), failed: z.number(), cancelled: z.number() }).loose();
export const DispatcherStats = z
  .object({
    at: z.number(),
    types: z.record(z.string(), Counts),
    throughput: z.object({ bucketMs: z.number(), perSecond: z.array(z.number()) }).loose(),
    latencyMs: z.object({ p50: z.number().nullable(), p99: z.number().nullable() }).loose(),
  })
  .loose();
export type DispatcherStats = z.infer<typeof DispatcherStats>;

/** The throughput chart's data: one bucket per second, the last one is the current second. */
export interface ThroughputView {
  /** Unix time in seconds of the last bucket. */
  end: number;
  /** Tasks finished per second, all types (the dispatcher's own series). */
  total: number[];
  /** Tasks finished per second per type, aligned with `total`; null before monitoring was watching. */
  types: Record<string, Array<number | null>>;
}

/**
 * The dispatcher keeps throughput history for all types together; per type it only has running
 * totals. This turns the totals, sampled at every poll, into per-second rates per type: the growth
 * between two samples is spread evenly over the seconds between them.
 */
export class ThroughputSeries {
  private readonly perType = new Map<string, Map<number, number>>();
  private previous: { second: number; finished: Map<string, number> } | undefined;
  private firstSecond: number | undefined;

  constructor(private readonly windowS = 300) {}

  add(stats: DispatcherStats): ThroughputView {
    const second = Math.floor(stats.at / 1000);
    this.firstSecond ??= second;
    const finished = new Map(Object.entries(stats.types).map(([type, c]) => [type, c.succeeded + c.failed + c.cancelled]));
    const prev = this.previous;
    if (prev !== undefined && second >= prev.second) {
      for (const [type, count] of finished) {
        const before = prev.finished.get(type) ?? 0;
        // A smaller count means the dispatcher restarted: take the new count as the baseline.
        const delta = count >= before ? count - before : 0;
        if (delta > 0) this.spread(type, delta, prev.second, second);
      }
    }
    this.previous = { second, finished };
    this.forget(second);
    return this.view(stats, second);
  }

  private spread(type: string, delta: number, from: number, to: number): void {
    const buckets = this.perType.get(type) ?? new Map<number, number>();
    this.perType.set(type, buckets);
    const seconds = Math.max(1, to - from);
    for (let s = to - seconds + 1; s <= to; s++) buckets.set(s, (buckets.get(s) ?? 0) + delta / seconds);
  }

  private forget(now: number): void {
    for (const buckets of this.perType.values()) for (const s of buckets.keys()) if (s <= now - this.windowS) buckets.delete(s);
  }

  private view(stats: DispatcherStats, end: number): ThroughputView {
    const total = stats.throughput.perSecond.slice(-this.windowS);
    const n = total.length;
    const types: Record<string, Array<number | null>> = {};
    for (const type of Object.keys(stats.types).sort()) {
      const buckets = this.perType.get(type);
      const series: Array<number | null> = [];
      for (let i = 0; i < n; i++) {
        const s = end - n + 1 + i;
        series.push(s < this.firstSecond! ? null : Math.round((buckets?.get(s) ?? 0) * 100) / 100);
      }
      types[type] = series;
    }
    return { end, total, types };
  }
}
