import type { HandlerContext } from './task-type.js';

/** A real HandlerContext for handler tests: records progress, takes an optional signal and clock. */
export function testContext(
  options: { signal?: AbortSignal; now?: () => Date; workerName?: string } = {},
): HandlerContext & { reported: number[] } {
  const reported: number[] = [];
  return {
    signal: options.signal ?? new AbortController().signal,
    workerName: options.workerName ?? 'test-worker-1',
    now: options.now ?? (() => new Date()),
    progress: (f) => reported.push(f),
    reported,
  };
}
