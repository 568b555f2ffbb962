import type { z } from 'zod';
import { TaskmeshError } from '../errors.js';

/**
 * Parses what a request carries (`where`: body, query, task...) with a schema, or throws 400
 * INVALID_REQUEST naming each bad field by its path (`body.port`, `query.wait`, `batch.tasks.3.type`),
 * also listed in `details.issues`. Every service's HTTP edge parses its input with it.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new TaskmeshError('INVALID_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { details: { issues } });
}
