import type { EndpointStats } from '@taskmesh/shared';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export type RetryReason = 'busy' | 'no_ack' | 'worker_lost' | 'manual' | 'other';
export type FrameOutcome = 'sent' | 'skipped' | 'failed';

export interface MetricsSources {
  endpointStats: () => EndpointStats;
  pending: () => number;
  inFlight: () => number;
  eventsSlowClosed: () => number;
  streams: () => number;
  /** Bytes finished tasks hold (bounded by TASKMESH_TASK_RETENTION_BYTES). */
  retainedBytes?: () => number;
  /** Payload bytes of unfinished tasks (bounded by TASKMESH_PENDING_BYTES). */
  unfinishedBytes?: () => number;
}

/** Latency buckets in seconds: sub-millisecond dispatch up to long `wait` tasks. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The dispatcher's Prometheus metrics, in its own Registry (default process metrics included).
 * Hot-path updates go through cached label children; transport and queue figures are read at
 * scrape time by collect() callbacks.
 */
/** Per-type latency histogram kept as plain counts; prom-client only reads it at scrape time. */
interface LatencyCells {
  counts: Float64Array;
  sum: number;
  count: number;
}

export class DispatcherMetrics {
  readonly registry = new Registry();
  private readonly retries: Counter<'type' | 'reason'>;
  private readonly frames: Counter<'outcome'>;
  // Per-task figures are plain numbers (prom-client's label hashing costs more than the rest of a
  // task's bookkeeping); collect() hands them over at scrape time.
  private readonly finishedCounts = new Map<string, { type: string; status: string; n: number }>();
  private readonly submittedCounts = new Map<string, number>();
  private readonly latencies = new Map<string, LatencyCells>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    // prom-client calls collect() with the metric as `this`: the counts are reached by name.
    const { finishedCounts, submittedCounts } = this;
    collectDefaultMetrics({ register: this.registry });
    new Counter({
      name: 'taskmesh_dispatcher_tasks_total',
      help: 'Tasks that reached a final status, by type and status (stream frames included)',
      labelNames: ['type', 'status'],
      registers,
      collect() {
        this.reset();
        for (const { type, status, n } of finishedCounts.values()) this.inc({ type, status }, n);
      },
    });
    new Counter({
      name: 'taskmesh_dispatcher_tasks_submitted_total',
      help: 'Tasks accepted for processing, by type',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of submittedCounts) this.inc({ type }, n);
      },
    });
    this.registry.registerMetric({
      name: 'taskmesh_dispatcher_task_latency_seconds',
      get: () =>
        Promise.resolve({
          name: 'taskmesh_dispatcher_task_latency_seconds',
          help: 'Submission to final status, by type',
          type: 'histogram',
          aggregator: 'sum',
          values: this.latencyValues(),
        }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    this.retries = new Counter({
      name: 'taskmesh_dispatcher_retries_total',
      help: 'Tasks sent again: busy (not an attempt), no_ack, worker_lost, manual',
      labelNames: ['type', 'reason'],
      registers,
    });
    this.frames = new Counter({
      name: 'taskmesh_dispatcher_stream_frames_total',
      help: 'Image stream frames: sent, skipped (client or worker still busy), failed',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'taskmesh_dispatcher_tasks_in_flight',
      help: 'Tasks at workers now',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: 'taskmesh_dispatcher_pending_tasks',
      help: 'Tasks waiting for a worker (pending queue size)',
      registers,
      collect() {
        this.set(sources.pending());
      },
    });
    new Gauge({
      name: 'taskmesh_dispatcher_image_streams',
      help: 'Open image stream WebSockets',
      registers,
      collect() {
        this.set(sources.streams());
      },
    });
    new Gauge({
      name: 'taskmesh_dispatcher_retained_task_bytes',
      help: 'Bytes held by finished tasks (payloads, results, records)',
      registers,
      collect() {
        this.set(sources.retainedBytes?.() ?? 0);
      },
    });
    new Gauge({
      name: 'taskmesh_dispatcher_unfinished_payload_bytes',
      help: 'Payload bytes of tasks not finished yet',
      registers,
      collect() {
        this.set(sources.unfinishedBytes?.() ?? 0);
      },
    });
    const fromEndpoint = (name: string, help: string, read: (s: EndpointStats) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read(sources.endpointStats()));
        },
      });
    };
    fromEndpoint('taskmesh_dispatcher_datagrams_sent_total', 'UDP datagrams sent', (s) => s.datagramsSent);
    fromEndpoint('taskmesh_dispatcher_datagrams_received_total', 'UDP datagrams received', (s) => s.datagramsReceived);
    fromEndpoint(
      'taskmesh_dispatcher_datagrams_retransmitted_total',
      'Messages and chunks sent again for want of an acknowledgement',
      (s) => s.retransmitted,
    );
    new Counter({
      name: 'taskmesh_dispatcher_datagrams_dropped_total',
      help: 'Incoming datagrams dropped, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(sources.endpointStats().dropped)) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'taskmesh_dispatcher_event_subscribers_closed_slow_total',
      help: 'Event WebSocket subscribers closed for reading too slowly',
      registers,
      collect() {
        this.reset();
        this.inc(sources.eventsSlowClosed());
      },
    });
  }

  submitted(type: string): void {
    this.submittedCounts.set(type, (this.submittedCounts.get(type) ?? 0) + 1);
  }

  finished(type: string, status: string, latencyMs: number): void {
    const key = `${type}\u0000${status}`;
    const c = this.finishedCounts.get(key);
    if (c === undefined) this.finishedCounts.set(key, { type, status, n: 1 });
    else c.n++;
    let h = this.latencies.get(type);
    if (h === undefined) {
      h = { counts: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
      this.latencies.set(type, h);
    }
    const seconds = latencyMs / 1000;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Prometheus histogram lines: cumulative buckets, +Inf, sum and count per type. */
  private latencyValues(): Array<{ metricName: string; labels: Record<string, string | number>; value: number }> {
    const name = 'taskmesh_dispatcher_task_latency_seconds';
    const out: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const [type, h] of this.latencies) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i]!;
        out.push({ metricName: `${name}_bucket`, labels: { le, type }, value: cumulative });
      });
      out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', type }, value: h.count });
      out.push({ metricName: `${name}_sum`, labels: { type }, value: h.sum });
      out.push({ metricName: `${name}_count`, labels: { type }, value: h.count });
    }
    return out;
  }

  retry(type: string, reason: RetryReason): void {
    this.retries.inc({ type, reason });
  }

  frame(outcome: FrameOutcome): void {
    this.frames.inc({ outcome });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
