import { describeUnknown } from '../describe.js';

/** How long `eventually` keeps asking, and how often. */
export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Asks `probe` until it answers: any value but `undefined` and `false` (so a plain condition works
 * too), or throws once `timeoutMs` has passed, naming `what` and the probe's last error. For state
 * that has no event to await ("the nameservice lists this worker as expired"); where an event
 * exists, await the event instead. The one polling helper of every workspace's tests.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${describeUnknown(last)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
