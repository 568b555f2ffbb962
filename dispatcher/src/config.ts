import { z } from 'zod';
import { DEFAULT_PORTS, envInt, envLogLevel, envOptionalString, envPort, envString, type ConfigOf } from '@taskmesh/shared';

/** The task types the dispatcher accepts unless TASKMESH_TASK_TYPES says otherwise. */
export const DEFAULT_TASK_TYPES = ['reverse', 'hash', 'sum', 'upper', 'wait', 'image'] as const;

const envTypeList = (fallback: readonly string[]) =>
  z
    .string()
    .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t.length > 0))
    .pipe(z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'comma-separated lower-case type names')).min(1))
    .default([...fallback]);

const envRatio = (fallback: number) => z.coerce.number().min(0).max(100).default(fallback);

/**
 * Every TASKMESH_* variable the dispatcher reads, with its default. main.ts loads it once with
 * `loadConfig`; the rest of the workspace takes the resulting values as options.
 */
export const dispatcherEnvSpec = {
  host: { env: 'TASKMESH_DISPATCHER_HOST', schema: envString('0.0.0.0') },
  port: { env: 'TASKMESH_DISPATCHER_PORT', schema: envPort(DEFAULT_PORTS.dispatcher) },
  udpHost: { env: 'TASKMESH_DISPATCHER_UDP_HOST', schema: envString('0.0.0.0') },
  udpPort: { env: 'TASKMESH_DISPATCHER_UDP_PORT', schema: envPort(0) },
  nameserviceUrl: { env: 'TASKMESH_NAMESERVICE_URL', schema: z.url().default('http://127.0.0.1:7100') },
  apiToken: { env: 'TASKMESH_API_TOKEN', schema: envOptionalString() },
  taskTypes: { env: 'TASKMESH_TASK_TYPES', schema: envTypeList(DEFAULT_TASK_TYPES) },
  maxAttempts: { env: 'TASKMESH_MAX_ATTEMPTS', schema: envInt(3, 1, 20) },
  taskTimeoutMs: { env: 'TASKMESH_TASK_TIMEOUT_MS', schema: envInt(30_000, 1, 3_600_000) },
  pendingLimit: { env: 'TASKMESH_PENDING_LIMIT', schema: envInt(10_000, 1) },
  loadThreshold: { env: 'TASKMESH_LOAD_THRESHOLD', schema: envRatio(0.9) },
  maxBodyBytes: { env: 'TASKMESH_MAX_BODY_BYTES', schema: envInt(5 * 1024 * 1024, 1024) },
  taskRetention: { env: 'TASKMESH_TASK_RETENTION', schema: envInt(10_000, 0) },
  taskRetentionMs: { env: 'TASKMESH_TASK_RETENTION_MS', schema: envInt(600_000, 0) },
  lookupCacheMs: { env: 'TASKMESH_LOOKUP_CACHE_MS', schema: envInt(750, 0, 60_000) },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

export type DispatcherEnvConfig = ConfigOf<typeof dispatcherEnvSpec>;
