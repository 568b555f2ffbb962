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
/** The items of a comma-separated value, trimmed, empty ones left out. */
export const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
/** A comma-separated list; empty or unset is []. */
export const envList = () => z.string().transform(splitList).default([]);
export const envLogLevel = () => z.enum(['error', 'warn', 'info', 'debug', 'silent']).default('info');

/** Where the default port of each service lives, so every service agrees. */
export const DEFAULT_PORTS = {
  nameservice: 7100,
  dispatcher: 7200,
  monitoring: 7300,
  /** Workers bind UDP to port 0 unless told otherwise. */
  worker: 0,
} as const;

/**
 * The public development secret: used only when TASKMESH_SECRET is unset and
 * TASKMESH_ALLOW_DEV_SECRET opts in. Anyone can read it here, so it protects nothing.
 */
export const DEVELOPMENT_SECRET = 'taskmesh-development-secret-do-not-use-in-production';
/** Shortest TASKMESH_SECRET accepted: `openssl rand -hex 32` gives 64 characters. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Resolves the shared secret. Unset: a ConfigError naming TASKMESH_SECRET, unless
 * TASKMESH_ALLOW_DEV_SECRET=1 opts into the public development secret (`isDefault` then says so,
 * for a warning). The development secret given as TASKMESH_SECRET is held to the same opt-in.
 * Shorter than MIN_SECRET_LENGTH: a ConfigError.
 */
export function resolveSecret(env: NodeJS.ProcessEnv = process.env): { secret: string; isDefault: boolean } {
  const secret = env.TASKMESH_SECRET;
  const optIn = env.TASKMESH_ALLOW_DEV_SECRET;
  const devAllowed = optIn === '1' || optIn === 'true' || optIn === 'yes';
  if (secret === DEVELOPMENT_SECRET) {
    // Written out by hand it is as public as when defaulted to: the same opt-in, the same warning.
    if (devAllowed) return { secret, isDefault: true };
    throw new ConfigError(
      "TASKMESH_SECRET is the public development secret, which anyone can read in taskmesh's source: give every service a secret of your own (e.g. `openssl rand -hex 32`), or set TASKMESH_ALLOW_DEV_SECRET=1 on a machine of your own",
    );
  }
  if (secret === undefined || secret === '') {
    if (devAllowed) return { secret: DEVELOPMENT_SECRET, isDefault: true };
    throw new ConfigError(
      `TASKMESH_SECRET is not set: give every service the same secret of at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -hex 32\`), or set TASKMESH_ALLOW_DEV_SECRET=1 to use the public development secret on a machine of your own`,
    );
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(
      `TASKMESH_SECRET is too short: ${secret.length} characters, at least ${MIN_SECRET_LENGTH} needed (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return { secret, isDefault: false };
}
