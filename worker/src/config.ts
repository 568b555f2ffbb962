import { hostname } from 'node:os';
import { z } from 'zod';
import {
  DEFAULT_PORTS,
  RESULT_CACHE_MAX_BYTES,
  WorkerName,
  envInt,
  envLogLevel,
  envOptionalString,
  envPort,
  envString,
  type ConfigOf,
} from '@taskmesh/shared';
import type { TaskTypeModule } from './task-types/task-type.js';

/**
 * Every TASKMESH_* variable the worker reads. Concurrency and queue size have no default here:
 * each task type brings its own (see `workerSettings`).
 */
export const workerEnvSpec = {
  nameserviceUrl: { env: 'TASKMESH_NAMESERVICE_URL', schema: z.url().default('http://127.0.0.1:7100') },
  host: { env: 'TASKMESH_WORKER_HOST', schema: envString('0.0.0.0') },
  port: { env: 'TASKMESH_WORKER_PORT', schema: envPort(DEFAULT_PORTS.worker) },
  advertiseHost: { env: 'TASKMESH_WORKER_ADVERTISE_HOST', schema: envOptionalString() },
  /** A user's task type: the ES module (path) whose default export defineTaskType made. */
  module: { env: 'TASKMESH_WORKER_MODULE', schema: envOptionalString() },
  name: { env: 'TASKMESH_WORKER_NAME', schema: WorkerName.optional() },
  concurrency: { env: 'TASKMESH_WORKER_CONCURRENCY', schema: z.coerce.number().int().min(1).max(1024).optional() },
  queueSize: { env: 'TASKMESH_WORKER_QUEUE_SIZE', schema: z.coerce.number().int().min(0).max(100_000).optional() },
  // Below the 30 s stop grace period of the compose files, so the worker exits before a SIGKILL.
  drainTimeoutMs: { env: 'TASKMESH_WORKER_DRAIN_TIMEOUT_MS', schema: envInt(25_000, 0, 3_600_000) },
  resultCacheBytes: { env: 'TASKMESH_WORKER_RESULT_CACHE_BYTES', schema: envInt(RESULT_CACHE_MAX_BYTES, 0) },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

export type WorkerEnvConfig = ConfigOf<typeof workerEnvSpec>;

/** The worker's settings once its type is known: per-type defaults filled in. */
export interface WorkerSettings extends Omit<WorkerEnvConfig, 'name' | 'concurrency' | 'queueSize'> {
  name: string;
  concurrency: number;
  queueSize: number;
}

/**
 * `<type>-<hostname>-<pid>`, with characters a worker name may not hold replaced by "-". In a
 * container the hostname is its id, so names stay unique across replicas.
 */
export function defaultWorkerName(type: string, host: string = hostname(), pid: number = process.pid): string {
  const safeHost = host.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 80) || 'host';
  return `${type}-${safeHost}-${pid}`.slice(0, 128);
}

export function workerSettings(config: WorkerEnvConfig, type: TaskTypeModule, host?: string, pid?: number): WorkerSettings {
  return {
    ...config,
    name: config.name ?? defaultWorkerName(type.name, host, pid),
    concurrency: config.concurrency ?? type.defaults.concurrency,
    queueSize: config.queueSize ?? type.defaults.queueSize,
  };
}
