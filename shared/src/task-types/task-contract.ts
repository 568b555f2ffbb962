import type { z } from 'zod';

/** Queue sizes a type runs with unless TASKMESH_WORKER_CONCURRENCY / _QUEUE_SIZE say otherwise. */
export interface QueueDefaults {
  concurrency: number;
  queueSize: number;
}

/**
 * What every part of taskmesh knows of a task type: its name, what it does, the payload it takes
 * and how its workers queue by default. The worker pairs it with a handler; the dispatcher
 * validates payloads with the same schema at submit, so a bad payload is refused before it is
 * stored; the CLI reads its limits.
 */
export interface TaskContract<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** One line, shown in usage, errors and logs. */
  readonly description: string;
  /** Parses the task's payload; a failure is INVALID_PAYLOAD naming the field. */
  readonly payload: S;
  readonly defaults: QueueDefaults;
}

/** Checks a contract's shape while keeping its payload type literal. */
export const defineContract = <S extends z.ZodType>(contract: TaskContract<S>): TaskContract<S> => contract;

/**
 * How many issues a payload check reports at most: an answer names the first few bad fields, and
 * a check that went on collecting one issue per bad element would let a small request buy seconds
 * of CPU. Checks over large inputs stop once they have this many.
 */
export const MAX_PAYLOAD_ISSUES = 5;
