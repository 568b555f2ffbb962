import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpGuard } from './http-limits.js';

/**
 * The HTTP limits in a service's /metrics, read at scrape time: open connections and body bytes in
 * flight (gauges), and what each limit refused (counters), named `<prefix>_http_…`.
 */
export function registerHttpMetrics(registry: Registry, guard: HttpGuard, prefix: string): void {
  const registers = [registry];
  new Gauge({
    name: `${prefix}_http_connections`,
    help: 'Open HTTP connections (bounded by TASKMESH_HTTP_MAX_CONNECTIONS)',
    registers,
    collect() {
      this.set(guard.connections);
    },
  });
  new Gauge({
    name: `${prefix}_http_body_bytes_in_flight`,
    help: 'Decoded request-body bytes held by requests being read (bounded by TASKMESH_HTTP_BODY_BUDGET_BYTES)',
    registers,
    collect() {
      this.set(guard.budget.inUse);
    },
  });
  new Counter({
    name: `${prefix}_http_refused_total`,
    help: 'Connections and requests refused by a limit, by the variable that sets it',
    labelNames: ['limit'],
    registers,
    collect() {
      const { refusedConnections, timedOut } = guard.counters;
      const { budget, inflation } = guard.budget.refused;
      this.reset();
      this.inc({ limit: 'TASKMESH_HTTP_MAX_CONNECTIONS' }, refusedConnections.total);
      this.inc({ limit: 'TASKMESH_HTTP_MAX_CONNECTIONS_PER_CLIENT' }, refusedConnections.perClient);
      this.inc({ limit: 'TASKMESH_HTTP_REQUEST_TIMEOUT_MS' }, timedOut);
      this.inc({ limit: 'TASKMESH_HTTP_BODY_BUDGET_BYTES' }, budget);
      this.inc({ limit: 'TASKMESH_HTTP_MAX_INFLATION' }, inflation);
    },
  });
}

/** A counter kept by the service as a plain number, read at scrape time. */
export interface ScrapedCounter {
  name: string;
  help: string;
  read: () => number;
}

/** What a service serves at GET /metrics. */
export interface ServiceMetrics {
  readonly contentType: string;
  text(): Promise<string>;
}

/**
 * The /metrics of a service that has no metrics of its own beyond its HTTP limits (the
 * nameservice, monitoring): the process's default metrics and registerHttpMetrics'.
 */
export function createServiceMetrics(guard: HttpGuard, prefix: string, counters: readonly ScrapedCounter[] = []): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerHttpMetrics(registry, guard, prefix);
  for (const { name, help, read } of counters)
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  return { contentType: registry.contentType, text: () => registry.metrics() };
}
