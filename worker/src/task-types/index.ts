import type { TaskTypeModule } from './task-type.js';
import { reverseType } from './reverse.js';
import { upperType } from './upper.js';
import { hashType } from './hash.js';
import { sumType } from './sum.js';
import { waitType } from './wait.js';
import { imageType } from './image.js';

/** Every task type a worker can run. Adding a type: write its module, list it here. */
export const TASK_TYPES: readonly TaskTypeModule[] = [reverseType, upperType, hashType, sumType, waitType, imageType];

/** The names, in the order listed. */
export const knownTypes = (): string[] => TASK_TYPES.map((t) => t.name);

/** The module of a type, or undefined when no worker can run it. */
export const findTaskType = (name: string): TaskTypeModule | undefined => TASK_TYPES.find((t) => t.name === name);
