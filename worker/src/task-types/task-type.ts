import type { z } from 'zod';
import type { QueueDefaults, TaskContract } from '@taskmesh/shared';

export type { QueueDefaults };

/**
 * What a handler sees of the world: no sockets, no queue, only what it needs to compute its
 * answer. Keeping handlers this small is what makes them pure and testable without a network.
 */
export interface HandlerContext {
  /** Aborted when the caller cancels the task or its deadline passes. */
  readonly signal: AbortSignal;
  /** Reports how far the task is, 0..1. */
  progress(fraction: number): void;
  /** The name of the worker running the task, for handlers that show it. */
  readonly workerName: string;
  /** The clock; injectable so renderings and waits can be tested. */
  now(): Date;
}

/**
 * One task type: its contract (name, description, payload schema, queue defaults; shared with the
 * dispatcher, which validates payloads with it at submit) and its handler.
 */
export interface TaskTypeModule<S extends z.ZodType = z.ZodType, R = unknown> extends TaskContract<S> {
  /**
   * True when the handler answers synchronously within microseconds for this payload. Such a task
   * runs inside the queue's offer() when a slot is free and nothing waits, so its result leaves in
   * the same turn and is its only answer (no separate ack). Leave it out for anything that may hold
   * the event loop.
   */
  quick?(payload: z.output<S>): boolean;
  /** When given, every result is checked against it: one that does not match fails the task, saying why. */
  result?: z.ZodType;
  handle(payload: z.output<S>, ctx: HandlerContext): Promise<R> | R;
}

const DEFINED = Symbol.for('taskmesh.task-type');

/** Sensible queue sizes for a type that says nothing: a few at a time, a window of work queued. */
const DEFAULT_QUEUE: QueueDefaults = { concurrency: 4, queueSize: 64 };

/** What a user writes: the contract and handler; queue defaults may be left out. */
export type TaskTypeDefinition<S extends z.ZodType, R> = Omit<TaskTypeModule<S, R>, 'defaults'> & { defaults?: Partial<QueueDefaults> };

/**
 * Defines a task type: `name`, `description`, `payload` (a zod schema) and `handle(payload, ctx)`
 * are required; queue defaults and `quick` are optional. The built-in types are defined with it,
 * and so is a user's own module (`export default defineTaskType({...})`).
 */
export function defineTaskType<S extends z.ZodType, R>(definition: TaskTypeDefinition<S, R>): TaskTypeModule<S, R> {
  const type = { ...definition, defaults: { ...DEFAULT_QUEUE, ...definition.defaults } } as TaskTypeModule<S, R>;
  Object.defineProperty(type, DEFINED, { value: true });
  return type;
}

/** Whether a value was made by defineTaskType (also by another copy of this package). */
export function isDefinedTaskType(value: unknown): value is TaskTypeModule {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINED] === true;
}
