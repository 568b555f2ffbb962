import { z } from 'zod';

/** Thrown when a TASKMESH_* variable does not parse; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A map from config key to the environment variable and schema that fill it. */
export type EnvSpec = Record<string, { env: string; schema: z.ZodType; doc?: string }>;

export type ConfigOf<S extends EnvSpec> = { [K in keyof S]: z.output<S[K]['schema']> };

/**
 * Reads a service's config from the environment once, at start-up. Each key names its variable
 * and a zod schema carrying its default; the first bad variable stops start-up with a message
 * naming it and what it expected.
 */
export function loadConfig<S extends EnvSpec>(spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, { env: name, schema }] of Object.entries(spec)) {
    const raw = env[name];
    const parsed = schema.safeParse(raw === '' ? undefined : raw);
    if (parsed.success) out[key] = parsed.data;
    else {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push(`${name}=${raw === undefined ? '(unset)' : JSON.stringify(raw)}: ${why}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join(', ')}`);
  return out as ConfigOf<S>;
}

/** Schema helpers for environment strings. */
export const envPort = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
export const envString = (fallback: string) => z.string().min(1).default(fallback);
export const envOptionalString = () => z.string().min(1).optional();
export const envBool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(fallback);
export const envLogLevel = () => z.enum(['error', 'warn', 'info', 'debug', 'silent']).default('info');

/** Where the default port of each service lives, so every service agrees. */
export const DEFAULT_PORTS = {
  nameservice: 7100,
  dispatcher: 7200,
  monitoring: 7300,
  /** Workers bind UDP to port 0 unless told otherwise. */
  worker: 0,
} as const;

/** Used when TASKMESH_SECRET is unset; services warn loudly when they fall back to it. */
export const DEVELOPMENT_SECRET = 'taskmesh-development-secret-do-not-use-in-production';

/** Resolves the shared secret, returning whether the development default was used. */
export function resolveSecret(env: NodeJS.ProcessEnv = process.env): { secret: string; isDefault: boolean } {
  const secret = env.TASKMESH_SECRET;
  if (secret === undefined || secret === '') return { secret: DEVELOPMENT_SECRET, isDefault: true };
  return { secret, isDefault: false };
}
