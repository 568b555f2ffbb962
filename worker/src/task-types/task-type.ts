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
  handle(payload: z.output<S>, ctx: HandlerContext): Promise<R> | R;
}

/** Helper that keeps the payload type of a module literal while checking its shape. */
export const defineTaskType = <S extends z.ZodType, R>(module: TaskTypeModule<S, R>): TaskTypeModule<S, R> => module;
