import type { EndpointStats } from '@taskmesh/shared';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type RetryReason = 'busy' | 'no_ack' | 'worker_lost' | 'manual' | 'other';
export type FrameOutcome = 'sent' | 'skipped' | 'failed';

export interface MetricsSources {
  endpointStats: () => EndpointStats;
  pending: () => number;
  inFlight: () => number;
  eventsDropped: () => number;
  streams: () => number;
}

/** Latency buckets in seconds: sub-millisecond dispatch up to long `wait` tasks. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The dispatcher's Prometheus metrics, in its own Registry (default process metrics included).
 * Hot-path updates go through cached label children; transport and queue figures are read at
 * scrape time by collect() callbacks.
 */
export class DispatcherMetrics {
  readonly registry = new Registry();
  private readonly tasks: Counter<'type' | 'status'>;
  private readonly submittedTotal: Counter<'type'>;
  private readonly latency: Histogram<'type'>;
  private readonly retries: Counter<'type' | 'reason'>;
  private readonly frames: Counter<'outcome'>;
  private readonly children = new Map<string, { inc(): void }>();
  private readonly latencyChildren = new Map<string, { observe(v: number): void }>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.tasks = new Counter({ name: 'taskmesh_dispatcher_tasks_total', help: 'Tasks that reached a final status, by type and status (stream frames included)', labelNames: ['type', 'status'], registers });
    this.submittedTotal = new Counter({ name: 'taskmesh_dispatcher_tasks_submitted_total', help: 'Tasks accepted for processing, by type', labelNames: ['type'], registers });
    this.latency = new Histogram({ name: 'taskmesh_dispatcher_task_latency_seconds', help: 'Submission to final status, by type', labelNames: ['type'], buckets: LATENCY_BUCKETS, registers });
    this.retries = new Counter({ name: 'taskmesh_dispatcher_retries_total', help: 'Tasks sent again: busy (not an attempt), no_ack, worker_lost, manual', labelNames: ['type', 'reason'], registers });
    this.frames = new Counter({ name: 'taskmesh_dispatcher_stream_frames_total', help: 'Image stream frames: sent, skipped (client or worker still busy), failed', labelNames: ['outcome'], registers });
    new Gauge({ name: 'taskmesh_dispatcher_tasks_in_flight', help: 'Tasks at workers now', registers, collect() { this.set(sources.inFlight()); } });
    new Gauge({ name: 'taskmesh_dispatcher_pending_tasks', help: 'Tasks waiting for a worker (pending queue size)', registers, collect() { this.set(sources.pending()); } });
    new Gauge({ name: 'taskmesh_dispatcher_image_streams', help: 'Open image stream WebSockets', registers, collect() { this.set(sources.streams()); } });
    const fromEndpoint = (name: string, help: string, read: (s: EndpointStats) => number): void => {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(sources.endpointStats())); } });
    };
    fromEndpoint('taskmesh_dispatcher_datagrams_sent_total', 'UDP datagrams sent', (s) => s.datagramsSent);
    fromEndpoint('taskmesh_dispatcher_datagrams_received_total', 'UDP datagrams received', (s) => s.datagramsReceived);
    fromEndpoint('taskmesh_dispatcher_datagrams_retransmitted_total', 'Messages and chunks sent again for want of an acknowledgement', (s) => s.retransmitted);
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
    new Counter({ name: 'taskmesh_dispatcher_events_dropped_total', help: 'Task events not sent to a slow WebSocket subscriber', registers, collect() { this.reset(); this.inc(sources.eventsDropped()); } });
  }

  submitted(type: string): void {
    let c = this.children.get(type);
    if (c === undefined) {
      c = this.submittedTotal.labels(type);
      this.children.set(type, c);
    }
    c.inc();
  }

  finished(type: string, status: string, latencyMs: number): void {
    const key = `${type}\u0000${status}`;
    let c = this.children.get(key);
    if (c === undefined) {
      c = this.tasks.labels(type, status);
      this.children.set(key, c);
    }
    c.inc();
    let h = this.latencyChildren.get(type);
    if (h === undefined) {
      h = this.latency.labels(type);
      this.latencyChildren.set(type, h);
    }
    h.observe(latencyMs / 1000);
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
