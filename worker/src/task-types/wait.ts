import { TaskmeshError, delay, waitContract, type WaitPayload } from '@taskmesh/shared';
import { defineTaskType, type HandlerContext } from './task-type.js';

export { MAX_WAIT_MS } from '@taskmesh/shared';

interface WaitResult {
  requestedMs: number;
  waitedMs: number;
}

/** Progress every 10% of the wait, but at least every second and at most every 100 ms. */
export const progressStepMs = (ms: number): number => Math.min(1000, Math.max(100, ms / 10));

/** Sleeps `ms`, reporting progress; a cancel rejects at once with CANCELLED (or the abort reason). */
async function waitFor({ ms }: WaitPayload, ctx: HandlerContext): Promise<WaitResult> {
  const start = ctx.now().getTime();
  const step = progressStepMs(ms);
  ctx.progress(0);
  try {
    // Sleeps in planned slices rather than polling the clock, so the loop is bounded by ms/step
    // rounds whatever the clock does.
    for (let slept = 0; slept < ms;) {
      const slice = Math.min(step, ms - slept);
      await delay(slice, ctx.signal);
      slept += slice;
      ctx.progress(slept / ms);
    }
    // Timers may fire a fraction of a millisecond early against the wall clock, once per
    // slice: top up so that the wait is never shorter than asked (bounded: the shortfall is tiny).
    for (
      let round = 0, short = ms - (ctx.now().getTime() - start);
      short > 0 && round < 3;
      round++, short = ms - (ctx.now().getTime() - start)
    ) {
      await delay(short, ctx.signal);
    }
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
    const reason: unknown = ctx.signal.reason;
    throw reason instanceof TaskmeshError
      ? reason
      : new TaskmeshError('CANCELLED', `wait cancelled after ${ctx.now().getTime() - start} ms`);
  }
  return { requestedMs: ms, waitedMs: ctx.now().getTime() - start };
}

export const waitType = defineTaskType({
  ...waitContract,
  handle: waitFor,
});
