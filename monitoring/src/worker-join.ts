import type { WorkerRecord } from '@taskmesh/shared';
import type { ContainerView } from './sources/docker-view.js';
import type { ProcessView } from './sources/runner-source.js';

/** A worker as the workers panel shows it: its registry entry joined with where it runs. */
export interface WorkerView extends WorkerRecord {
  /** Time since its last heartbeat, at the moment the list was read. */
  heartbeatAgeMs: number;
  /** The container it runs in, when Docker is connected and one matches. */
  container: { id: string; name: string; service: string | null; state: string } | null;
  /** The runner process it is, under `npm start`. */
  process: { name: string; pid: number | null; status: string } | null;
}

/**
 * Finds the container a worker runs in. Workers may say so in their registration `meta`
 * (containerId, container, hostname); otherwise the advertised host is compared with each
 * container's network addresses, hostname, name and (when unambiguous) Compose service.
 */
export function containerOf(worker: WorkerRecord, containers: ContainerView[]): ContainerView | undefined {
  const meta = worker.meta ?? {};
  const byId = (id: string | undefined): ContainerView | undefined =>
    id && id.length >= 6 ? containers.find((c) => c.id.startsWith(id)) : undefined;
  const byName = (name: string | undefined): ContainerView | undefined =>
    name ? containers.find((c) => c.name === name || c.hostname === name) : undefined;
  const found =
    byId(meta.containerId) ??
    byName(meta.container) ??
    byId(meta.container) ??
    byName(meta.hostname) ??
    byId(meta.hostname) ??
    containers.find((c) => c.state === 'running' && c.ipAddresses.includes(worker.host)) ??
    byName(worker.host) ??
    byId(worker.host);
  if (found) return found;
  const sameService = containers.filter((c) => c.service === worker.host);
  return sameService.length === 1 ? sameService[0] : undefined;
}

/** Joins each worker with its container (Docker) or runner process (same pid, local suite). */
export function joinWorkers(workers: WorkerRecord[], containers: ContainerView[], processes: ProcessView[], now: number): WorkerView[] {
  return workers.map((w) => {
    const c = containerOf(w, containers);
    const p = processes.find((proc) => proc.pid !== null && proc.pid === w.pid);
    return {
      ...w,
      heartbeatAgeMs: Math.max(0, now - w.lastHeartbeatAt),
      container: c ? { id: c.id, name: c.name, service: c.service, state: c.state } : null,
      process: p ? { name: p.name, pid: p.pid, status: p.status } : null,
    };
  });
}
