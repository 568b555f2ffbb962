import type { ApiClient } from '@taskmesh/client';
import { delay } from '@taskmesh/shared';

/** Workers must be registered and seen by the dispatcher before a bench's clock starts. */
const WORKERS_READY_TIMEOUT_MS = 15_000;

/** Resolves once the dispatcher sees `count` live workers of `type`; throws after the timeout. */
export async function waitForLiveWorkers(api: ApiClient, type: string, count: number): Promise<void> {
  const deadline = Date.now() + WORKERS_READY_TIMEOUT_MS;
  let seen = 0;
  while (Date.now() < deadline) {
    seen = (await api.workers()).filter((w) => w.type === type && w.state === 'live').length;
    if (seen >= count) return;
    await delay(100);
  }
  throw new Error(`only ${seen} of ${count} ${type} workers live after ${WORKERS_READY_TIMEOUT_MS} ms`);
}
