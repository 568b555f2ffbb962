import type { Logger } from '@taskmesh/shared';

/** A stall past this is logged: the task server's acks and keep-alives were late by that much. */
export const LOOP_BLOCKED_WARN_MS = 1000;
const SAMPLE_INTERVAL_MS = 250;

export interface LoopMonitor {
  /** The longest stall seen so far, in ms. */
  readonly maxBlockedMs: number;
  stop(): void;
}

/**
 * Watches the main thread's event loop by the lateness of a timer and logs each stall longer
 * than `thresholdMs` (`event: 'loop-blocked'`). A synchronous handler (a large image) causes
 * them; the lease is safe on the heartbeat thread, but UDP answers wait, which is worth seeing.
 */
export function startLoopMonitor(options: { logger: Logger; thresholdMs?: number }): LoopMonitor {
  const threshold = options.thresholdMs ?? LOOP_BLOCKED_WARN_MS;
  let last = performance.now();
  let max = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - SAMPLE_INTERVAL_MS;
    last = now;
    if (late > max) max = late;
    if (late >= threshold)
      options.logger.warn(`event loop blocked for ${Math.round(late)} ms`, { event: 'loop-blocked', ms: Math.round(late) });
  }, SAMPLE_INTERVAL_MS).unref();
  return {
    get maxBlockedMs() {
      return Math.round(max);
    },
    stop: () => clearInterval(timer),
  };
}
