import { imageContract } from './image.js';
import { sumContract } from './sum.js';
import type { TaskContract } from './task-contract.js';
import { hashContract, reverseContract, upperContract } from './text.js';
import { waitContract } from './wait.js';

export { defineContract } from './task-contract.js';
export type { QueueDefaults, TaskContract } from './task-contract.js';
export {
  HASH_ALGORITHMS,
  HASH_ENCODINGS,
  HashPayload,
  MAX_TEXT_LENGTH,
  ReversePayload,
  UpperPayload,
  hashContract,
  reverseContract,
  upperContract,
} from './text.js';
export { MAX_SUM_ELEMENTS, SumPayload, sumContract } from './sum.js';
export type { SumTerm } from './sum.js';
export { MAX_WAIT_MS, WaitPayload, waitContract } from './wait.js';
export { IMAGE_FORMATS, IMAGE_MAX_SIDE, IMAGE_MAX_TEXT, IMAGE_MIN_SIDE, ImagePayload, imageContract } from './image.js';
export { validatePayload, formatPath } from './validate-payload.js';
export { ContractDescriptor, MAX_CONTRACT_SCHEMA_BYTES, contractFingerprint, describeContract } from './contract-descriptor.js';

/** The built-in task types, in the order they are listed everywhere. */
export const BUILTIN_CONTRACTS: readonly TaskContract[] = [
  reverseContract,
  hashContract,
  sumContract,
  upperContract,
  waitContract,
  imageContract,
];

/** The built-in names, in order. */
export const BUILTIN_TYPE_NAMES: readonly string[] = BUILTIN_CONTRACTS.map((c) => c.name);

/** The contract of a built-in type, or undefined. */
export const findContract = (name: string): TaskContract | undefined => BUILTIN_CONTRACTS.find((c) => c.name === name);
