import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BUILTIN_TYPE_NAMES, TaskType } from '@taskmesh/shared';

/**
 * `workers.json` describes the worker set once; both the local runner (`npm start`) and the
 * compose generator read it, so a local run and a container deployment start the same workers.
 */

/** The task types the worker implements; the default set starts one of each. */
export const WORKER_TYPES = BUILTIN_TYPE_NAMES;

/** Most replicas of one type; a guard against typos such as 100 instead of 10. */
export const MAX_REPLICAS = 32;

const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, _)');

/** Settings of one worker type. */
export const WorkerSpec = z.strictObject({
  /** Processes (local) or containers (compose) of this type. */
  replicas: z.number().int().min(0).max(MAX_REPLICAS).default(1),
  /** Tasks run at once by one worker (TASKMESH_WORKER_CONCURRENCY); the worker's default if absent. */
  concurrency: z.number().int().min(1).max(1024).optional(),
  /** Tasks queued beyond `concurrency` before the worker answers BUSY (TASKMESH_WORKER_QUEUE_SIZE). */
  queueSize: z.number().int().min(0).max(100_000).optional(),
  /** Extra environment for this type's workers. */
  env: z.record(EnvName, z.string()).default({}),
  /**
   * A type of your own: the ES module (a path relative to workers.json) whose default export
   * `defineTaskType` made (TASKMESH_WORKER_MODULE).
   */
  module: z.string().min(1).max(1024).optional(),
});
export type WorkerSpec = z.output<typeof WorkerSpec>;

export const WorkersConfig = z.strictObject({
  $schema: z.string().optional(),
  workers: z.record(TaskType, WorkerSpec).refine((w) => Object.keys(w).length > 0, 'at least one worker type'),
});
export type WorkersConfig = z.output<typeof WorkersConfig>;

/** One of each type with the worker's own defaults: used when there is no workers.json. */
export const DEFAULT_WORKERS_CONFIG: WorkersConfig = {
  workers: Object.fromEntries(WORKER_TYPES.map((t) => [t, { replicas: 1, env: {} }])),
};

/** A workers.json that does not parse; the message names the file and every bad field. */
export class WorkersConfigError extends Error {
  override readonly name = 'WorkersConfigError';
}

/** Formats a zod issue path as `workers.reverse.replicas`. */
const fieldOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? '(top level)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');

/** Validates parsed JSON; throws WorkersConfigError naming each bad field. */
export function parseWorkersConfig(value: unknown, source = 'workers.json'): WorkersConfig {
  const parsed = WorkersConfig.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    // An unrecognised key reports the parent path; name the keys themselves.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${fieldOf([...issue.path, k])}: unknown field`).join('; ');
    }
    // A bad record key (a type name) reports the key in the path already.
    return `${fieldOf(issue.path)}: ${issue.message}`;
  });
  throw new WorkersConfigError(`${source}: ${problems.join('; ')}`);
}

/** Reads and validates a workers file; a missing file yields the default set. */
export async function loadWorkersConfig(path: string): Promise<WorkersConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_WORKERS_CONFIG;
    throw new WorkersConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WorkersConfigError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const config = parseWorkersConfig(json, path);
  // Module paths are relative to the file that names them.
  for (const spec of Object.values(config.workers)) {
    if (spec.module !== undefined && !isAbsolute(spec.module)) spec.module = resolve(dirname(path), spec.module);
  }
  return config;
}

/** The environment a worker of this spec gets on top of the suite's. */
export function workerEnv(spec: WorkerSpec): Record<string, string> {
  const env: Record<string, string> = {};
  if (spec.concurrency !== undefined) env.TASKMESH_WORKER_CONCURRENCY = String(spec.concurrency);
  if (spec.queueSize !== undefined) env.TASKMESH_WORKER_QUEUE_SIZE = String(spec.queueSize);
  if (spec.module !== undefined) env.TASKMESH_WORKER_MODULE = spec.module;
  return { ...env, ...spec.env };
}
