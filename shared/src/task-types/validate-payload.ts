import type { z } from 'zod';
import { TaskmeshError } from '../errors.js';
import { MAX_PAYLOAD_ISSUES, type TaskContract } from './task-contract.js';

/** `numbers[3]`, `width`, or `payload` for the whole value: the name the caller knows the field by. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? 'payload' : out;
}

/**
 * Parses a task's payload with its type's schema. Throws TaskmeshError INVALID_PAYLOAD whose
 * message names each bad field, e.g. `numbers[2]: expected a finite number, got "abc"`; `where`
 * prefixes it (`tasks.3.payload.`) for a task inside a batch.
 */
export function validatePayload<S extends z.ZodType>(contract: TaskContract<S>, payload: unknown, where = ''): z.output<S> {
  const parsed = contract.payload.safeParse(payload);
  if (parsed.success) return parsed.data;
  const name = (path: ReadonlyArray<PropertyKey>): string => `${where}${formatPath(path)}`;
  const shown = parsed.error.issues.slice(0, MAX_PAYLOAD_ISSUES);
  const issues = shown.map((issue) => `${name(issue.path)}: ${issue.message}`);
  const more = parsed.error.issues.length > MAX_PAYLOAD_ISSUES ? ' (and more)' : '';
  throw new TaskmeshError('INVALID_PAYLOAD', `invalid ${contract.name} payload: ${issues.join('; ')}${more}`, {
    details: { fields: shown.map((i) => name(i.path)) },
  });
}
