import { backoffDelay, delay, TaskmeshError, type BackoffPolicy, type SubmitTaskRequest } from '@taskmesh/shared';
import type { ApiClient } from './api-client.js';

/**
 * A full pending queue (429 QUEUE_FULL) is back-pressure, not failure: the batch is sent again
 * after a short, growing, jittered pause. Retry-After (whole seconds) is far coarser than the time
 * the dispatcher needs to drain a batch, so the pause starts at 25 ms: about what a busy dispatcher
 * needs to make room for a batch of 500 (a shorter first pause mostly buys a second refusal, and
 * each refusal costs the dispatcher a parse of the whole body).
 */
export const QUEUE_FULL_BACKOFF: BackoffPolicy = { initialDelayMs: 25, maxDelayMs: 250, factor: 2, jitter: 0.3 };
/** A batch still refused after this long fails with the dispatcher's QUEUE_FULL error. */
const QUEUE_FULL_GIVE_UP_MS = 60_000;

export interface BackpressureOptions {
  signal?: AbortSignal;
  /** Called each time a batch is refused for a full queue. */
  onThrottled?: () => void;
  giveUpMs?: number;
}

/** Submits a batch, waiting out QUEUE_FULL answers; any other error is thrown at once. */
export async function submitBatchWithBackpressure(
  api: ApiClient,
  tasks: SubmitTaskRequest[],
  options: BackpressureOptions = {},
): Promise<string[]> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await api.submitBatch(tasks);
    } catch (err) {
      const full = err instanceof TaskmeshError && err.code === 'QUEUE_FULL';
      if (!full || Date.now() - started >= (options.giveUpMs ?? QUEUE_FULL_GIVE_UP_MS)) throw err;
      options.onThrottled?.();
      await delay(backoffDelay(QUEUE_FULL_BACKOFF, attempt), options.signal);
    }
  }
}
