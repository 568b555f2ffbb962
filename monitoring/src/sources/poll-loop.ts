import { delay } from '@taskmesh/shared';

/**
 * Runs `step` now and then every `intervalMs` (measured from the end of the previous step, so a
 * slow upstream is never hit by overlapping requests) until `signal` aborts. `step` handles its
 * own errors; one that escapes is reported to `onError` and the loop goes on.
 */
export async function pollLoop(
  step: () => Promise<void>,
  options: { intervalMs: number | (() => number); signal: AbortSignal; onError?: (err: unknown) => void },
): Promise<void> {
  while (!options.signal.aborted) {
    try {
      await step();
    } catch (err) {
      options.onError?.(err);
    }
    const wait = typeof options.intervalMs === 'function' ? options.intervalMs() : options.intervalMs;
    try {
      await delay(wait, options.signal);
    } catch {
      return;
    }
  }
}

/** The connection state every source reports alongside its data. */
export interface UpstreamStatus {
  connected: boolean;
  /** Why the last attempt failed, while not connected. */
  error?: string;
  /** When the current state (connected or not) began, ms since the epoch. */
  since: number;
}

/** A readable one-line reason for any error (fetch hides the socket error in `cause`). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return `${err.message}: ${cause.code}`;
  return err.message;
}
