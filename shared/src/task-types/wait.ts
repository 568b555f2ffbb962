import { z } from 'zod';
import { defineContract } from './task-contract.js';

/** Ten minutes: long enough for demos and tests of timeouts, short enough to bound a slot. */
export const MAX_WAIT_MS = 600_000;

export const WaitPayload = z.strictObject({ ms: z.number().int().min(0).max(MAX_WAIT_MS) });
export type WaitPayload = z.infer<typeof WaitPayload>;

export const waitContract = defineContract({
  name: 'wait',
  description: `sleeps {ms} (at most ${MAX_WAIT_MS}), reporting progress; cancellable`,
  payload: WaitPayload,
  // Sleeping costs nothing, so many can run at once.
  defaults: { concurrency: 16, queueSize: 64 },
});
