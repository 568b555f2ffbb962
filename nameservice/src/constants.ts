import { DEFAULT_PORTS, LEASE_TTL_MS } from '@taskmesh/shared';

/**
 * The nameservice's timing and size limits. The lease itself (HEARTBEAT_INTERVAL_MS,
 * MISSED_HEARTBEATS_BEFORE_EXPIRY, LEASE_TTL_MS) lives in @taskmesh/shared so workers agree on it.
 */

/** How often the sweep looks for lapsed leases; a dead worker is expired at most this late. */
export const SWEEP_INTERVAL_MS = 250;

/** How long an expired entry stays listed (state 'expired') for observers before it is removed. */
export const EXPIRED_RETENTION_MS = 60_000;

/**
 * Entries loaded from the registry file after a restart are 'suspect' and get this long to
 * heartbeat again before they expire: one lease, counted from start-up.
 */
export const SUSPECT_GRACE_MS = LEASE_TTL_MS;

/** Heartbeats only change load figures: the file is rewritten at most this often for them. */
export const PERSIST_INTERVAL_MS = 250;

/** Registrations and removals are written this soon, so a burst of them shares one write. */
export const URGENT_PERSIST_DELAY_MS = 10;

/** After a failed write (disk full, permissions) the next attempt waits this long. */
export const PERSIST_RETRY_MS = 1000;

/** The nameservice's defaults, one place for its environment (main.ts) and createNameservice. */
export const NAMESERVICE_DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULT_PORTS.nameservice,
  registryFile: './data/registry.json',
} as const;

/**
 * Most entries the registry holds (live, suspect and recently expired), so neither its memory nor
 * its file grows with what clients send. A registration past it is refused with REGISTRY_FULL;
 * an expired entry makes room first. TASKMESH_NAMESERVICE_MAX_WORKERS overrides it.
 */
export const MAX_WORKERS = 1024;

/** Largest accepted request body; a registration is a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Most open signed GET /v1/watch streams (the dispatchers); one more is refused with TOO_MANY_SUBSCRIBERS. */
export const MAX_WATCHERS = 64;

/** Most open unsigned watch streams (anyone's: a dashboard of one's own), apart from the signed ones' slots. */
export const MAX_UNSIGNED_WATCHERS = 16;

/** Most open unsigned watch streams from one client. */
export const MAX_UNSIGNED_WATCHERS_PER_CLIENT = 2;

/** A watcher that has not read this many bytes of changes is disconnected (it reconnects and looks up). */
export const MAX_WATCH_BACKLOG_BYTES = 256 * 1024;
