import type { z } from 'zod';
import { validatePayload } from '@taskmesh/shared';
import type { TaskTypeModule } from './task-type.js';

export { formatPath } from '@taskmesh/shared';

/**
 * Parses a task's payload with its type's schema (the one the dispatcher checked at submit).
 * Throws TaskmeshError INVALID_PAYLOAD whose message names each bad field.
 */
export function parsePayload<S extends z.ZodType>(module: TaskTypeModule<S, unknown>, payload: unknown): z.output<S> {
  return validatePayload(module, payload);
}
