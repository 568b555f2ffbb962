import type { WorkerRecord } from '../registry.js';

/** A live, idle worker record as the nameservice lists one, with `over` on top (for tests that need no nameservice). */
export function workerRecord(over: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    name: 'reverse-1',
    type: 'reverse',
    host: '127.0.0.1',
    port: 40_000,
    pid: 1,
    load: { queued: 0, inFlight: 0, capacity: 4 },
    loadRatio: 0,
    state: 'live',
    registeredAt: 0,
    lastHeartbeatAt: 0,
    ...over,
  };
}
