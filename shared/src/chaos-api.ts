import { z } from 'zod';
import { WorkerName } from './registry.js';

/**
 * Chaos controls (the dispatcher's /v1/chaos, when TASKMESH_CHAOS=1): kill a worker, pause and
 * resume it, or drop a share of the datagrams between the dispatcher and it, for a while. Every
 * fault ends by itself: a pause resumes and a loss stops after `forMs`; `resume` ends a pause and a
 * loss of 0 % ends a loss before that.
 */
export const ChaosAction = z.enum(['kill', 'pause', 'resume', 'loss']);
export type ChaosAction = z.infer<typeof ChaosAction>;

/** How long a pause or a loss lasts unless told otherwise, and at most. */
export const DEFAULT_CHAOS_FOR_MS = 30_000;
export const MAX_CHAOS_FOR_MS = 600_000;

/** POST /v1/chaos/:action */
export const ChaosRequest = z.strictObject({
  worker: WorkerName,
  /** loss: the share of datagrams dropped each way, in percent; 0 ends the worker's loss. */
  percent: z.number().int().min(0).max(100).optional(),
  /** pause and loss: how long, in ms (DEFAULT_CHAOS_FOR_MS). */
  forMs: z.number().int().min(100).max(MAX_CHAOS_FOR_MS).optional(),
});
export type ChaosRequest = z.infer<typeof ChaosRequest>;

/** The answer: what was done, and until when for a fault that ends by itself. */
export const ChaosResponse = z.object({
  action: ChaosAction,
  worker: WorkerName,
  done: z.string(),
  until: z.number().nullable(),
});
export type ChaosResponse = z.infer<typeof ChaosResponse>;

/** A fault in force. */
export const ChaosFault = z.object({
  worker: WorkerName,
  kind: z.enum(['loss', 'pause']),
  percent: z.number().nullable(),
  until: z.number(),
  /** Datagrams dropped by a loss so far. */
  dropped: z.number().int(),
});
export type ChaosFault = z.infer<typeof ChaosFault>;

/** GET /v1/chaos */
export const ChaosStatus = z.object({
  enabled: z.boolean(),
  /** Who kills and pauses processes: the runner (npm start), or null (only loss works). */
  supervisor: z.string().nullable(),
  faults: z.array(ChaosFault),
});
export type ChaosStatus = z.infer<typeof ChaosStatus>;

/** The key purpose of the dispatcher's chaos requests to monitoring (see deriveKey). */
export const CHAOS_KEY_PURPOSE = 'chaos';

/** What kills, pauses and resumes a worker process or container. */
export const ProcessAction = z.enum(['kill', 'pause', 'resume']);
export type ProcessAction = z.infer<typeof ProcessAction>;

/** POST /internal/chaos at monitoring (Compose), signed: the worker container with this hostname. */
export const ContainerChaosRequest = z.strictObject({
  action: ProcessAction,
  worker: WorkerName,
  hostname: z.string().min(1).max(255),
  forMs: z.number().int().min(1).max(MAX_CHAOS_FOR_MS),
});
export type ContainerChaosRequest = z.infer<typeof ContainerChaosRequest>;

/** The dispatcher to the runner over its IPC channel (npm start): the worker process with this pid. */
export const RunnerChaosRequest = z.strictObject({
  taskmesh: z.literal('chaos'),
  id: z.number().int(),
  action: ProcessAction,
  pid: z.number().int().min(1),
  forMs: z.number().int().min(1).max(MAX_CHAOS_FOR_MS),
});
export type RunnerChaosRequest = z.infer<typeof RunnerChaosRequest>;

/** The runner's answer to a RunnerChaosRequest of the same id. */
export const RunnerChaosAnswer = z.strictObject({
  taskmesh: z.literal('chaos-result'),
  id: z.number().int(),
  ok: z.boolean(),
  message: z.string(),
});
export type RunnerChaosAnswer = z.infer<typeof RunnerChaosAnswer>;
