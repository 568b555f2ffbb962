import { networkInterfaces } from 'node:os';

/**
 * Container health checks, run by Docker inside a service's container (HEALTHCHECK and the
 * compose files' `healthcheck:`). An HTTP service is healthy when its /healthz answers 2xx; a
 * worker is healthy when the nameservice holds a live (heartbeating) registration whose
 * address is one of this container's own, which proves it registered and keeps its lease.
 */

export interface HealthResult {
  healthy: boolean;
  detail: string;
}

/** GET `url` and require a 2xx within `timeoutMs`. */
export async function checkHttp(url: string, timeoutMs = 3000): Promise<HealthResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return { healthy: res.ok, detail: `${url} answered ${res.status}` };
  } catch (err) {
    return { healthy: false, detail: `${url}: ${(err as Error).message}` };
  }
}

/** This host's IPv4 and IPv6 addresses (a container's: one per network it is attached to). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((i) => (i ? [i.address] : []));
}

export interface WorkerCheckOptions {
  nameserviceUrl: string;
  /** Addresses this worker may have registered with. */
  addresses: string[];
  /** When set, the registration must also carry this name. */
  name?: string;
  timeoutMs?: number;
}

interface Registration {
  name: string;
  host: string;
  port: number;
  state: string;
}

/** The few fields of GET /v1/workers the check needs, parsed by hand: the check must start fast,
 * so it does not load the shared zod schemas. Entries missing them are skipped. */
function parseWorkers(body: unknown): Registration[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const list = (body as { workers?: unknown }).workers;
  if (!Array.isArray(list)) return undefined;
  return list.filter(
    (w): w is Registration =>
      typeof w === 'object' &&
      w !== null &&
      typeof (w as Registration).name === 'string' &&
      typeof (w as Registration).host === 'string' &&
      typeof (w as Registration).port === 'number' &&
      typeof (w as Registration).state === 'string',
  );
}

/** Looks for a live registration of a worker at one of `addresses`. */
export async function checkWorkerRegistered(options: WorkerCheckOptions): Promise<HealthResult> {
  const url = `${options.nameserviceUrl.replace(/\/+$/, '')}/v1/workers`;
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 3000) });
    if (!res.ok) return { healthy: false, detail: `${url} answered ${res.status}` };
    body = await res.json();
  } catch (err) {
    return { healthy: false, detail: `${url}: ${(err as Error).message}` };
  }
  const workers = parseWorkers(body);
  if (workers === undefined) return { healthy: false, detail: `${url}: unexpected answer` };
  const mine = workers.filter((w) => options.addresses.includes(w.host) && (options.name === undefined || w.name === options.name));
  const live = mine.find((w) => w.state === 'live');
  if (live) return { healthy: true, detail: `registered as ${live.name} at ${live.host}:${live.port}` };
  if (mine.length > 0) return { healthy: false, detail: `registration ${mine[0]!.name} is ${mine[0]!.state}` };
  return { healthy: false, detail: `no registration at ${options.addresses.join(', ')}` };
}
