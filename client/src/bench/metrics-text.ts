import type { ApiClient } from '../api-client.js';

/**
 * Reads counters out of Prometheus text exposition: the bench diffs the dispatcher's
 * retransmission and datagram counters before and after a run.
 */

/** Every sample as `name{labels}` → value (comments and malformed lines skipped). */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (!Number.isNaN(value)) samples.set(match[1]!, value);
  }
  return samples;
}

/** Sum of every sample whose metric name matches (labels ignored). */
export function sumMatching(samples: Map<string, number>, pattern: RegExp): number {
  let total = 0;
  for (const [key, value] of samples) {
    const name = key.replace(/\{.*$/, '');
    if (pattern.test(name) && !name.endsWith('_created')) total += value;
  }
  return total;
}

/** Counter names taken to count retransmitted datagrams. */
export const RETRANSMISSION_PATTERN = /retransmi/i;
/** Counter names taken to count datagrams sent and received. */
export const DATAGRAMS_SENT_PATTERN = /datagrams_sent/;
export const DATAGRAMS_RECEIVED_PATTERN = /datagrams_received/;
/** The process's CPU time, user and system, as prom-client's default metrics name it. */
export const CPU_SECONDS_METRIC = 'process_cpu_seconds_total';

/** One sample of a dispatcher's /metrics by its exact name; null when it has none (or cannot be read). */
export async function readMetric(api: Pick<ApiClient, 'metricsText'>, name: string): Promise<number | null> {
  try {
    return parsePrometheusText(await api.metricsText()).get(name) ?? null;
  } catch {
    return null;
  }
}
