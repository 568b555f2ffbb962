/**
 * Entry point of the heartbeat thread (worker_threads). It owns the worker's registration:
 * register, heartbeat with the load the main thread publishes in a SharedArrayBuffer, register
 * again when forgotten, deregister when told to stop. Being its own thread, it keeps the lease
 * alive while a CPU-bound handler holds the main thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NameserviceClient, createLogger } from '@taskmesh/shared';
import { resolveAdvertiseHost } from './advertise-host.js';
import { LoadCell } from './load-cell.js';
import { Registration } from './registration.js';
import type { HeartbeatThreadData, ThreadReport, ThreadCommand } from './heartbeat-thread.js';

const data = workerData as HeartbeatThreadData;
const port = parentPort;
if (port === null) throw new Error('heartbeat-thread-main must run in a worker thread');

const logger = createLogger({ service: 'worker', level: data.logLevel, json: data.json }).child({
  module: 'registration',
  worker: data.register.name,
});
const cell = new LoadCell(data.loadBuffer);
const client = new NameserviceClient({ baseUrl: data.nameserviceUrl, key: Buffer.from(data.nameserviceKey), logger });
const registration = new Registration({
  client,
  logger,
  heartbeatIntervalMs: data.heartbeatIntervalMs,
  load: () => cell.read(),
  request: async () => {
    const load = cell.read();
    return { ...data.register, capacity: load.capacity, host: await resolveAdvertiseHost(data.advertise) };
  },
  onRegistered: (worker, first) => port.postMessage({ kind: 'registered', worker, first } satisfies ThreadReport),
});
registration.start().catch(() => undefined);

port.on('message', (command: ThreadCommand) => {
  if (command.kind !== 'stop') return;
  registration
    .stop({ deregister: command.deregister })
    .then(
      () => port.postMessage({ kind: 'stopped', stats: registration.stats() } satisfies ThreadReport),
      (err: unknown) =>
        port.postMessage({
          kind: 'stopped',
          stats: registration.stats(),
          error: err instanceof Error ? err.message : String(err),
        } satisfies ThreadReport),
    )
    .finally(() => port.close());
});
