export { createNameservice } from './nameservice.js';
export type { Nameservice, NameserviceOptions } from './nameservice.js';
export { WorkerRegistry, compareByLoad } from './worker-registry.js';
export type { RegistryEvent, WorkerRegistryOptions, ListFilter } from './worker-registry.js';
export { RegistryStore } from './registry-store.js';
export type { LoadResult, LoadSource } from './registry-store.js';
export { PersistScheduler } from './persist-scheduler.js';
export type { PersistSchedulerOptions } from './persist-scheduler.js';
export { createHttpApp } from './http-app.js';
export type { HttpAppOptions } from './http-app.js';
export {
  SWEEP_INTERVAL_MS,
  EXPIRED_RETENTION_MS,
  SUSPECT_GRACE_MS,
  PERSIST_INTERVAL_MS,
  URGENT_PERSIST_DELAY_MS,
  PERSIST_RETRY_MS,
  MAX_BODY_BYTES,
} from './constants.js';
