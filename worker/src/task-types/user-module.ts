import { register } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { BUILTIN_TYPE_NAMES } from '@taskmesh/shared';
import { isDefinedTaskType, type TaskTypeModule } from './task-type.js';

/** What a type's name may be: what the dispatcher and the nameservice accept. */
const TYPE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A module that cannot serve as a task type: the message names the file and the problem. */
export class TaskModuleError extends Error {}

let hooked = false;

/**
 * Lets a module anywhere on disk `import { defineTaskType, z } from '@taskmesh/worker'` (and
 * `zod`) without a node_modules of its own: those two specifiers resolve to this worker's copies.
 */
function hookResolution(): void {
  if (hooked) return;
  hooked = true;
  register('./module-hooks.js', {
    parentURL: import.meta.url,
    data: { worker: new URL('../index.js', import.meta.url).href, zod: import.meta.resolve('zod') },
  });
}

/**
 * Loads a user's task type: an ES module whose default export is made by `defineTaskType`. Its
 * name must be `expected` (the type the worker was started for) and not a built-in type's.
 */
export async function loadTaskModule(file: string, expected: string, cwd = process.cwd()): Promise<TaskTypeModule> {
  const path = isAbsolute(file) ? file : resolve(cwd, file);
  hookResolution();
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ERR_MODULE_NOT_FOUND' && (err as Error).message.includes(path) ? 'no such file' : (err as Error).message;
    throw new TaskModuleError(`task module ${path} cannot be loaded: ${why}`);
  }
  const type = loaded.default;
  if (!isDefinedTaskType(type)) {
    throw new TaskModuleError(
      `task module ${path} exports no task type: its default export must be defineTaskType({ name, description, payload, handle })`,
    );
  }
  const problems = checkDefinition(type);
  if (problems.length > 0) throw new TaskModuleError(`task module ${path}: ${problems.join('; ')}`);
  if (BUILTIN_TYPE_NAMES.includes(type.name)) {
    throw new TaskModuleError(`task module ${path} defines "${type.name}", the name of a built-in type: choose another name`);
  }
  if (type.name !== expected) {
    throw new TaskModuleError(`task module ${path} defines type "${type.name}", but this worker was started for "${expected}"`);
  }
  return type;
}

function checkDefinition(type: TaskTypeModule): string[] {
  const problems: string[] = [];
  if (typeof type.name !== 'string' || !TYPE_NAME.test(type.name))
    problems.push(`name ${JSON.stringify(type.name)} must match ${TYPE_NAME}`);
  if (typeof type.description !== 'string' || type.description === '') problems.push('description must be a non-empty string');
  if (!(type.payload instanceof z.ZodType)) problems.push('payload must be a zod schema (import { z } from "@taskmesh/worker")');
  if (typeof type.handle !== 'function') problems.push('handle must be a function (payload, ctx) => result');
  return problems;
}
