import type { z } from 'zod';

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

/** Queue sizes a type runs with unless TASKMESH_WORKER_CONCURRENCY / _QUEUE_SIZE say otherwise. */
export interface QueueDefaults {
  concurrency: number;
  queueSize: number;
}

/**
 * One task type: its name, payload schema and handler. Adding a type means writing one module
 * that exports one of these and listing it in `types/index.ts`.
 */
export interface TaskTypeModule<S extends z.ZodType = z.ZodType, R = unknown> {
  readonly name: string;
  /** One line, shown in `worker` usage and logs. */
  readonly description: string;
  /** Parses the task's payload; a failure rejects the task with INVALID_PAYLOAD naming the field. */
  readonly payload: S;
  readonly defaults: QueueDefaults;
  /**
   * True when the handler answers synchronously within microseconds for this payload. Such a task
   * runs inside the queue's offer() when a slot is free and nothing waits, so its result leaves in
   * the same turn and is its only answer (no separate ack). Leave it out for anything that may hold
   * the event loop.
   */
  quick?(payload: z.output<S>): boolean;
  handle(payload: z.output<S>, ctx: HandlerContext): Promise<R> | R;
}

/** Helper that keeps the payload type of a module literal while checking its shape. */
export const defineTaskType = <S extends z.ZodType, R>(module: TaskTypeModule<S, R>): TaskTypeModule<S, R> => module;
