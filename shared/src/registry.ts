import { z } from 'zod';
import { LoadReport, TaskType } from './protocol.js';
import { ContractDescriptor } from './task-types/contract-descriptor.js';

/**
 * The nameservice's HTTP API: request bodies, the worker record and the persisted registry file.
 * Liveness is by lease: a worker heartbeats every HEARTBEAT_INTERVAL_MS and is expired after
 * MISSED_HEARTBEATS_BEFORE_EXPIRY intervals without one.
 */
export const HEARTBEAT_INTERVAL_MS = 1000;
export const MISSED_HEARTBEATS_BEFORE_EXPIRY = 3;
export const LEASE_TTL_MS = HEARTBEAT_INTERVAL_MS * MISSED_HEARTBEATS_BEFORE_EXPIRY;

export const WorkerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, ".", "_", ":" or "-", at most 128');

/** The worker's UDP endpoint id: frames to it are signed for this id, and only it accepts them. */
export const EndpointId = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex digits');

/** Labels a worker may attach to its registration: at most this many, with these sizes. */
export const MAX_META_ENTRIES = 16;
export const MAX_META_KEY_LENGTH = 64;
export const MAX_META_VALUE_LENGTH = 256;
const Meta = z
  .record(z.string().min(1).max(MAX_META_KEY_LENGTH), z.string().max(MAX_META_VALUE_LENGTH))
  .refine((meta) => Object.keys(meta).length <= MAX_META_ENTRIES, { message: `at most ${MAX_META_ENTRIES} entries` });

/** POST /v1/workers */
export const RegisterRequest = z.strictObject({
  name: WorkerName,
  type: TaskType,
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  endpointId: EndpointId,
  capacity: z.number().int().min(1).max(1_000_000),
  pid: z.number().int().min(0),
  /** Free-form labels, e.g. the container id the worker runs in. */
  meta: Meta.optional(),
  /** Its type's contract: the dispatcher validates payloads of the type with it at submit. */
  contract: ContractDescriptor.optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

/** PUT /v1/workers/:name/heartbeat */
export const HeartbeatRequest = z.strictObject({
  queued: z.number().int().min(0),
  inFlight: z.number().int().min(0),
  capacity: z.number().int().min(1).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

/** live: heartbeating; suspect: loaded from disk after a restart and not heard from since;
 * expired: missed its lease, kept briefly for observers, never returned by lookups. */
export const WorkerState = z.enum(['live', 'suspect', 'expired']);
export type WorkerState = z.infer<typeof WorkerState>;

export const WorkerRecord = z.object({
  name: WorkerName,
  type: TaskType,
  host: z.string(),
  port: z.number().int(),
  /** Absent only in registry files written before endpoint ids existed: such a worker gets no tasks. */
  endpointId: EndpointId.optional(),
  pid: z.number().int(),
  meta: z.record(z.string(), z.string()).optional(),
  load: LoadReport,
  /** (queued + inFlight) / capacity. */
  loadRatio: z.number().min(0),
  state: WorkerState,
  registeredAt: z.number(),
  lastHeartbeatAt: z.number(),
  /** When the lease ran out; present only on expired entries, which are removed a while later. */
  expiredAt: z.number().optional(),
  /** Why it expired: its lease ran out, or what its supervisor reported (a process exit, a container's death). */
  downReason: z.string().max(300).optional(),
  /** Its type's contract, as registered. */
  contract: ContractDescriptor.optional(),
});
export type WorkerRecord = z.infer<typeof WorkerRecord>;

/** 201 answer to a registration. */
export const LeaseResponse = z.object({
  worker: WorkerRecord,
  lease: z.object({ ttlMs: z.number().int(), heartbeatIntervalMs: z.number().int() }),
});
export type LeaseResponse = z.infer<typeof LeaseResponse>;

/** GET /v1/workers query: optional filters. */
export const WorkerListQuery = z.object({ type: TaskType.optional(), state: WorkerState.optional() });
export type WorkerListQuery = z.infer<typeof WorkerListQuery>;

/** GET /v1/workers and GET /v1/types/:type/workers */
/** How the dispatcher's link to a worker behaves (GET /v1/workers of the dispatcher). */
const LinkHealthSchema = z.object({
  srttMs: z.number().nullable(),
  rttvarMs: z.number().nullable(),
  retransmitRatio: z.number().min(0).max(1),
  busyRatio: z.number().min(0).max(1),
  lastAckAgeMs: z.number().nullable(),
});

export const WorkerListResponse = z.object({
  workers: z.array(WorkerRecord.extend({ dispatcherInFlight: z.number().int().optional(), link: LinkHealthSchema.nullable().optional() })),
});
export type WorkerListResponse = z.infer<typeof WorkerListResponse>;

/** A Docker container id, whole (64) or as short as a container's hostname (12): lower-case hex. */
export const CONTAINER_ID_PATTERN = /^[0-9a-f]{12,64}$/;

/**
 * POST /v1/workers/down: a supervisor saw a worker's process end (the runner, a child's exit) or its
 * container die (monitoring, Docker's `die` event). The worker is named by what the supervisor
 * knows: the host and pid it registered, or its container (the worker's hostname is the start of
 * the container id). A worker registered again since (a new pid, a new container) is not touched.
 */
export const WorkerDownRequest = z
  .strictObject({
    host: z.string().min(1).max(255).optional(),
    pid: z.number().int().min(1).optional(),
    container: z.string().regex(CONTAINER_ID_PATTERN, '12 to 64 lower-case hex digits').optional(),
    reason: z.string().min(1).max(200),
  })
  .refine((r) => (r.host !== undefined && r.pid !== undefined) || r.container !== undefined, {
    message: 'name the worker by host and pid, or by container',
  });
export type WorkerDownRequest = z.infer<typeof WorkerDownRequest>;

/** 200 answer to a down report: the workers it expired (none when they had registered again). */
export const WorkerDownResponse = z.object({ expired: z.array(WorkerName) });
export type WorkerDownResponse = z.infer<typeof WorkerDownResponse>;

/**
 * GET /v1/watch: the registry's changes, pushed as JSON lines while the connection stays open.
 * `hello` opens the stream (anything missed before it is for a lookup to find), `ping` keeps it
 * alive, `up` is a worker now live (registered, replaced or heard from again), `down` one that
 * stopped being live (deregistered, expired, reported down) with how and why.
 */
export const RegistryChange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hello'), at: z.number() }),
  z.object({ kind: z.literal('ping'), at: z.number() }),
  z.object({ kind: z.literal('up'), at: z.number(), name: WorkerName, type: TaskType }),
  z.object({
    kind: z.literal('down'),
    at: z.number(),
    name: WorkerName,
    type: TaskType,
    /**
     * reported: a supervisor saw its process end, so its tasks are lost; expired: its lease ran out;
     * deregistered: it left on its own, finishing what it holds first.
     */
    cause: z.enum(['reported', 'expired', 'deregistered']),
    reason: z.string().max(300),
  }),
]);
export type RegistryChange = z.infer<typeof RegistryChange>;
/** A watch line longer than this is not the nameservice's. */
export const MAX_REGISTRY_CHANGE_BYTES = 4096;
/** The nameservice pings each watcher this often; a watcher hearing nothing for 3 intervals reconnects. */
export const WATCH_PING_INTERVAL_MS = 5000;

/** The registry file, as written to disk. */
export const RegistryFile = z.object({
  version: z.literal(1),
  savedAt: z.number(),
  workers: z.array(WorkerRecord),
});
export type RegistryFile = z.infer<typeof RegistryFile>;
