import { z } from 'zod';
import { JOURNAL_SYNC_POLICIES } from './journal/store.js';
import {
  DEFAULT_PORTS,
  TRACE_SAMPLERS,
  envBool,
  envInt,
  envList,
  envLogLevel,
  envOptionalString,
  envPort,
  envString,
  httpLimitsEnvSpec,
  splitList,
} from '@taskmesh/shared';

/**
 * The dispatcher's defaults, one place for both the environment (below) and createDispatcher's
 * options. Memory and connections are bounded by bytes and counts whatever clients send: with
 * these a dispatcher holds at most ~128 MiB of unfinished payloads and ~64 MiB of finished tasks.
 */
export const DISPATCHER_DEFAULTS = {
  maxAttempts: 3,
  taskTimeoutMs: 30_000,
  pendingLimit: 10_000,
  pendingBytes: 128 * 1024 * 1024,
  loadThreshold: 0.9,
  maxBodyBytes: 5 * 1024 * 1024,
  maxPayloadBytes: 1024 * 1024,
  maxPayloadDepth: 32,
  /** A safety cap on finished tasks in memory; retention is by age and bytes (older ones are read from the journal). */
  taskRetention: 1_000_000,
  taskRetentionMs: 600_000,
  taskRetentionBytes: 64 * 1024 * 1024,
  journalRetentionBytes: 1024 * 1024 * 1024,
  journalRetentionRecords: 1_000_000,
  bulkMaxScan: 100_000,
  eventsLogSize: 100_000,
  lookupCacheMs: 750,
  maxLongPolls: 1000,
  maxEventSubscribers: 256,
  maxEventSubscribersPerClient: 32,
  eventsBacklogBytes: 32 * 1024 * 1024,
  eventsBacklogTotalBytes: 256 * 1024 * 1024,
  maxImageStreams: 4,
} as const;

const D = DISPATCHER_DEFAULTS;

/** TASKMESH_TASK_TYPES: unset, the built-ins and every type a worker registers; set, exactly these. */
const envTypeList = () =>
  z
    .string()
    .transform(splitList)
    .pipe(z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'comma-separated lower-case type names')).min(1))
    .optional();

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
  taskTypes: { env: 'TASKMESH_TASK_TYPES', schema: envTypeList() },
  maxAttempts: { env: 'TASKMESH_MAX_ATTEMPTS', schema: envInt(D.maxAttempts, 1, 20) },
  taskTimeoutMs: { env: 'TASKMESH_TASK_TIMEOUT_MS', schema: envInt(D.taskTimeoutMs, 1, 3_600_000) },
  pendingLimit: { env: 'TASKMESH_PENDING_LIMIT', schema: envInt(D.pendingLimit, 1) },
  pendingBytes: { env: 'TASKMESH_PENDING_BYTES', schema: envInt(D.pendingBytes, 1024) },
  loadThreshold: { env: 'TASKMESH_LOAD_THRESHOLD', schema: envRatio(D.loadThreshold) },
  maxBodyBytes: { env: 'TASKMESH_MAX_BODY_BYTES', schema: envInt(D.maxBodyBytes, 1024) },
  maxPayloadBytes: { env: 'TASKMESH_MAX_PAYLOAD_BYTES', schema: envInt(D.maxPayloadBytes, 16) },
  maxPayloadDepth: { env: 'TASKMESH_MAX_PAYLOAD_DEPTH', schema: envInt(D.maxPayloadDepth, 1, 256) },
  taskRetention: { env: 'TASKMESH_TASK_RETENTION', schema: envInt(D.taskRetention, 0) },
  taskRetentionMs: { env: 'TASKMESH_TASK_RETENTION_MS', schema: envInt(D.taskRetentionMs, 0) },
  taskRetentionBytes: { env: 'TASKMESH_TASK_RETENTION_BYTES', schema: envInt(D.taskRetentionBytes, 0) },
  lookupCacheMs: { env: 'TASKMESH_LOOKUP_CACHE_MS', schema: envInt(D.lookupCacheMs, 0, 60_000) },
  maxLongPolls: { env: 'TASKMESH_MAX_LONG_POLLS', schema: envInt(D.maxLongPolls, 0) },
  maxEventSubscribers: { env: 'TASKMESH_MAX_EVENT_SUBSCRIBERS', schema: envInt(D.maxEventSubscribers, 0) },
  maxEventSubscribersPerClient: { env: 'TASKMESH_MAX_EVENT_SUBSCRIBERS_PER_CLIENT', schema: envInt(D.maxEventSubscribersPerClient, 0) },
  eventsBacklogBytes: { env: 'TASKMESH_EVENTS_BACKLOG_BYTES', schema: envInt(D.eventsBacklogBytes, 1024) },
  eventsBacklogTotalBytes: { env: 'TASKMESH_EVENTS_BACKLOG_TOTAL_BYTES', schema: envInt(D.eventsBacklogTotalBytes, 1024) },
  maxImageStreams: { env: 'TASKMESH_MAX_IMAGE_STREAMS', schema: envInt(D.maxImageStreams, 0) },
  journalPath: { env: 'TASKMESH_JOURNAL_PATH', schema: envString('data/dispatcher-journal') },
  journalSync: { env: 'TASKMESH_JOURNAL_SYNC', schema: z.enum(JOURNAL_SYNC_POLICIES).default('process') },
  journalRetentionBytes: { env: 'TASKMESH_JOURNAL_RETENTION_BYTES', schema: envInt(D.journalRetentionBytes, 0) },
  journalRetentionRecords: { env: 'TASKMESH_JOURNAL_RETENTION_RECORDS', schema: envInt(D.journalRetentionRecords, 0) },
  bulkMaxScan: { env: 'TASKMESH_BULK_MAX_SCAN', schema: envInt(D.bulkMaxScan, 1000) },
  eventsLogSize: { env: 'TASKMESH_EVENTS_LOG_SIZE', schema: envInt(D.eventsLogSize, 0) },
  chaos: { env: 'TASKMESH_CHAOS', schema: envBool(false) },
  chaosControlUrl: { env: 'TASKMESH_CHAOS_CONTROL_URL', schema: z.url().optional() },
  tracesSampler: { env: 'OTEL_TRACES_SAMPLER', schema: z.enum(TRACE_SAMPLERS).optional() },
  tracesSamplerArg: { env: 'OTEL_TRACES_SAMPLER_ARG', schema: z.coerce.number().min(0).max(1).optional() },
  allowedHosts: { env: 'TASKMESH_ALLOWED_HOSTS', schema: envList() },
  allowedOrigins: { env: 'TASKMESH_ALLOWED_ORIGINS', schema: envList() },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
  ...httpLimitsEnvSpec,
};
