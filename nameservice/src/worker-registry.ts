import {
  CONTAINER_ID_PATTERN,
  HEARTBEAT_INTERVAL_MS,
  LEASE_TTL_MS,
  TaskmeshError,
  contractFingerprint,
  loadRatio,
  type HeartbeatRequest,
  type RegisterRequest,
  type WorkerRecord,
  type WorkerState,
} from '@taskmesh/shared';
import { EXPIRED_RETENTION_MS, MAX_WORKERS, SUSPECT_GRACE_MS } from './constants.js';

/**
 * The registry core: which workers exist, their load and their leases. Pure state over an
 * injected clock; no timers, files or sockets, so it is tested by moving the clock. The service
 * calls `sweep()` on a timer and persists `snapshot()` when `onEvent` reports a change.
 */

/** Something that changed in the registry; `membership` events should be persisted soon. */
export type RegistryEvent =
  | { kind: 'registered' | 'replaced' | 'revived' | 'removed'; name: string; type: string; membership: true }
  | { kind: 'deregistered' | 'expired'; name: string; type: string; membership: true; reason: string; reported: boolean }
  | { kind: 'heartbeat'; name: string; type: string; membership: false };

/** How a down report names a worker (see WorkerDownRequest). */
export interface DownMatch {
  host?: string | undefined;
  pid?: number | undefined;
  container?: string | undefined;
}

export interface WorkerRegistryOptions {
  /** Milliseconds since the epoch; Date.now unless a test moves time by hand. */
  clock?: () => number;
  onEvent?: (event: RegistryEvent) => void;
  leaseTtlMs?: number;
  expiredRetentionMs?: number;
  suspectGraceMs?: number;
  /** Most entries held (MAX_WORKERS). */
  maxWorkers?: number;
}

export interface ListFilter {
  type?: string;
  state?: WorkerState;
}

interface Entry {
  record: WorkerRecord;
  /** The instant the lease runs out unless a heartbeat renews it. */
  leaseExpiresAt: number;
}

/** Least loaded first: load ratio, then tasks in flight, then name so the order is stable. */
export function compareByLoad(a: WorkerRecord, b: WorkerRecord): number {
  return a.loadRatio - b.loadRatio || a.load.inFlight - b.load.inFlight || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export class WorkerRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: () => number;
  private readonly onEvent: (event: RegistryEvent) => void;
  readonly leaseTtlMs: number;
  private readonly expiredRetentionMs: number;
  private readonly suspectGraceMs: number;
  readonly maxWorkers: number;

  constructor(options: WorkerRegistryOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.leaseTtlMs = options.leaseTtlMs ?? LEASE_TTL_MS;
    this.expiredRetentionMs = options.expiredRetentionMs ?? EXPIRED_RETENTION_MS;
    this.suspectGraceMs = options.suspectGraceMs ?? SUSPECT_GRACE_MS;
    this.maxWorkers = options.maxWorkers ?? MAX_WORKERS;
  }

  /** Entries held now, whatever their state. */
  get size(): number {
    return this.entries.size;
  }

  /** The lease terms handed to a worker on registration. */
  get lease(): { ttlMs: number; heartbeatIntervalMs: number } {
    return { ttlMs: this.leaseTtlMs, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS };
  }

  /**
   * Restores entries read from the registry file. Nobody has vouched for them since the restart,
   * so non-expired ones become 'suspect' with a fresh grace period; expired ones keep their
   * retention. Emits no events: the caller has just read this state from disk.
   */
  restore(records: readonly WorkerRecord[]): void {
    const now = this.clock();
    for (const r of records) {
      const record: WorkerRecord = { ...r, state: r.state === 'expired' ? 'expired' : 'suspect' };
      if (record.state === 'expired') record.expiredAt = r.expiredAt ?? now;
      else delete record.expiredAt;
      this.entries.set(r.name, { record, leaseExpiresAt: now + this.suspectGraceMs });
    }
  }

  /** Adds a worker, replacing any entry of the same name (a restarted worker keeps its name). */
  register(req: RegisterRequest): WorkerRecord {
    const now = this.clock();
    const previous = this.entries.get(req.name);
    this.checkContract(req);
    if (previous === undefined && this.entries.size >= this.maxWorkers) this.makeRoom(now);
    const load = { queued: 0, inFlight: 0, capacity: req.capacity };
    const record: WorkerRecord = {
      name: req.name,
      type: req.type,
      host: req.host,
      port: req.port,
      endpointId: req.endpointId,
      pid: req.pid,
      ...(req.meta === undefined ? {} : { meta: { ...req.meta } }),
      load,
      loadRatio: loadRatio(load),
      state: 'live',
      registeredAt: now,
      lastHeartbeatAt: now,
      ...(req.contract === undefined ? {} : { contract: req.contract }),
    };
    this.entries.set(req.name, { record, leaseExpiresAt: now + this.leaseTtlMs });
    this.onEvent({
      kind: previous && previous.record.state !== 'expired' ? 'replaced' : 'registered',
      name: req.name,
      type: req.type,
      membership: true,
    });
    return copy(record);
  }

  /**
   * One type, one contract: a worker whose type is held by workers (not expired) with another
   * contract is refused, naming both fingerprints. A rolling change of contract takes a new type
   * name, or the old workers drained first.
   */
  private checkContract(req: RegisterRequest): void {
    if (req.contract === undefined) return;
    const mine = req.contract.fingerprint;
    // The fingerprint is what agreement is judged by: it must be the schema's, not a claim.
    const computed = contractFingerprint(req.type, req.contract.payloadSchema);
    if (computed !== mine)
      throw new TaskmeshError(
        'INVALID_REQUEST',
        `contract fingerprint ${mine} is not that of its schema (${computed}): the fingerprint is SHA-256 of the type's name and its payload schema`,
        { details: { fields: ['contract.fingerprint'] } },
      );
    for (const { record } of this.entries.values()) {
      if (record.type !== req.type || record.name === req.name || record.state === 'expired') continue;
      const theirs = record.contract?.fingerprint;
      if (theirs === undefined || theirs === mine) continue;
      throw new TaskmeshError(
        'CONTRACT_CONFLICT',
        `type "${req.type}" is registered with contract ${theirs} (worker ${record.name}); this worker's is ${mine}: give the new contract a new type name, or drain the old workers first`,
        { details: { type: req.type, registered: theirs, offered: mine, worker: record.name } },
      );
    }
  }

  /**
   * Renews a lease and records the worker's load. Returns undefined for an unknown or expired
   * worker, which must register again.
   */
  heartbeat(name: string, body: HeartbeatRequest): WorkerRecord | undefined {
    const now = this.clock();
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    this.expireIfDue(entry, now);
    if (entry.record.state === 'expired') return undefined;
    const revived = entry.record.state === 'suspect';
    const load = { queued: body.queued, inFlight: body.inFlight, capacity: body.capacity ?? entry.record.load.capacity };
    entry.record = { ...entry.record, load, loadRatio: loadRatio(load), state: 'live', lastHeartbeatAt: now };
    entry.leaseExpiresAt = now + this.leaseTtlMs;
    const type = entry.record.type;
    this.onEvent(revived ? { kind: 'revived', name, type, membership: true } : { kind: 'heartbeat', name, type, membership: false });
    return copy(entry.record);
  }

  /** Removes a worker at its request; false if it was not known. */
  deregister(name: string): boolean {
    const entry = this.entries.get(name);
    if (entry === undefined) return false;
    this.entries.delete(name);
    this.onEvent({ kind: 'deregistered', name, type: entry.record.type, membership: true, reason: 'deregistered', reported: false });
    return true;
  }

  /**
   * A supervisor saw a worker's process or container end: every live or suspect entry it names is
   * expired now instead of at the end of its lease. An entry registered again since (another pid,
   * another container) does not match. Returns the names expired.
   */
  reportDown(match: DownMatch, reason: string): string[] {
    const now = this.clock();
    const expired: string[] = [];
    for (const entry of this.entries.values()) {
      const { record } = entry;
      if (record.state === 'expired' || !matches(record, match)) continue;
      entry.record = { ...record, state: 'expired', expiredAt: now, downReason: reason };
      expired.push(record.name);
      this.onEvent({ kind: 'expired', name: record.name, type: record.type, membership: true, reason, reported: true });
    }
    return expired;
  }

  get(name: string): WorkerRecord | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    this.expireIfDue(entry, this.clock());
    return copy(entry.record);
  }

  /** Every entry, including suspect and recently expired ones, by name. */
  list(filter: ListFilter = {}): WorkerRecord[] {
    this.sweep();
    return [...this.entries.values()]
      .map((e) => e.record)
      .filter((r) => (filter.type === undefined || r.type === filter.type) && (filter.state === undefined || r.state === filter.state))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(copy);
  }

  /** Live workers of a type, least loaded first. Suspect and expired entries are never offered. */
  lookup(type: string): WorkerRecord[] {
    this.sweep();
    return [...this.entries.values()]
      .map((e) => e.record)
      .filter((r) => r.type === type && r.state === 'live')
      .sort(compareByLoad)
      .map(copy);
  }

  /** Counts by state, for health checks. */
  counts(): Record<WorkerState, number> {
    this.sweep();
    const out: Record<WorkerState, number> = { live: 0, suspect: 0, expired: 0 };
    for (const { record } of this.entries.values()) out[record.state] += 1;
    return out;
  }

  /** Expires entries whose lease ran out and removes expired ones past their retention. */
  sweep(): void {
    const now = this.clock();
    for (const [name, entry] of this.entries) {
      this.expireIfDue(entry, now);
      const { expiredAt } = entry.record;
      if (expiredAt !== undefined && now >= expiredAt + this.expiredRetentionMs) {
        this.entries.delete(name);
        this.onEvent({ kind: 'removed', name, type: entry.record.type, membership: true });
      }
    }
  }

  /** Every entry as it should be written to disk. */
  snapshot(): WorkerRecord[] {
    return [...this.entries.values()].map((e) => copy(e.record));
  }

  /** Drops the oldest expired entry to admit a new one, or refuses with REGISTRY_FULL. */
  private makeRoom(now: number): void {
    let oldest: WorkerRecord | undefined;
    for (const entry of this.entries.values()) {
      this.expireIfDue(entry, now);
      const { record } = entry;
      if (record.state === 'expired' && (oldest === undefined || (record.expiredAt ?? 0) < (oldest.expiredAt ?? 0))) oldest = record;
    }
    if (oldest === undefined) {
      throw new TaskmeshError(
        'REGISTRY_FULL',
        `the registry holds its maximum of ${this.maxWorkers} workers (TASKMESH_NAMESERVICE_MAX_WORKERS); deregister or let some expire first`,
        {
          details: { limit: this.maxWorkers },
        },
      );
    }
    this.entries.delete(oldest.name);
    this.onEvent({ kind: 'removed', name: oldest.name, type: oldest.type, membership: true });
  }

  private expireIfDue(entry: Entry, now: number): void {
    if (entry.record.state === 'expired' || now < entry.leaseExpiresAt) return;
    entry.record = {
      ...entry.record,
      state: 'expired',
      expiredAt: now,
      downReason: `lease ran out: no heartbeat for ${this.leaseTtlMs} ms`,
    };
    this.onEvent({
      kind: 'expired',
      name: entry.record.name,
      type: entry.record.type,
      membership: true,
      reason: entry.record.downReason!,
      reported: false,
    });
  }
}

/**
 * Whether a down report names this entry: the same host and pid, or a container whose id begins
 * with the worker's hostname (a container's hostname is the start of its id).
 */
function matches(record: WorkerRecord, match: DownMatch): boolean {
  const hostname = record.meta?.hostname;
  if (match.pid !== undefined && match.host !== undefined && record.pid === match.pid && hostname === match.host) return true;
  return (
    match.container !== undefined && hostname !== undefined && CONTAINER_ID_PATTERN.test(hostname) && match.container.startsWith(hostname)
  );
}

/** Callers get copies, so nothing outside can change an entry behind the registry's back. */
function copy(record: WorkerRecord): WorkerRecord {
  return { ...record, load: { ...record.load }, ...(record.meta === undefined ? {} : { meta: { ...record.meta } }) };
}
