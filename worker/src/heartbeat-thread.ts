import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { silentLogger, type LogLevel, type Logger, type RegisterRequest, type WorkerRecord } from '@taskmesh/shared';
import type { AdvertiseHostOptions } from './advertise-host.js';

/** What the thread is started with (worker_threads workerData: structured-clonable). */
export interface HeartbeatThreadData {
  /** LoadCell's buffer, written by the main thread. */
  loadBuffer: SharedArrayBuffer;
  nameserviceUrl: string;
  /** TASKMESH_SECRET: the nameservice accepts only signed registrations and heartbeats. */
  /** The key registrations are signed with (never the secret itself). */
  nameserviceKey: Uint8Array;
  logLevel: LogLevel;
  json: boolean;
  /** The registration, less what is worked out per attempt (host) or read from the load (capacity). */
  register: Omit<RegisterRequest, 'host' | 'capacity'>;
  advertise: AdvertiseHostOptions;
  heartbeatIntervalMs?: number;
}

export type ThreadCommand = { kind: 'stop'; deregister: boolean };
export type ThreadReport =
  | { kind: 'registered'; worker: WorkerRecord; first: boolean }
  | { kind: 'stopped'; stats: { registrations: number; heartbeats: number }; error?: string };

/** Deregistration is one HTTP call with a 2 s timeout; past this the thread is terminated. */
export const THREAD_STOP_TIMEOUT_MS = 5000;

export interface HeartbeatThreadOptions {
  data: HeartbeatThreadData;
  logger?: Logger;
  /** The thread died on its own: the worker can no longer keep its lease. */
  onFailure?: (err: Error) => void;
}

/**
 * The main thread's handle on the heartbeat thread (see heartbeat-thread-main.ts): starts it,
 * tells when the worker is first registered, and stops it, deregistering.
 */
export class HeartbeatThread {
  readonly registered: Promise<WorkerRecord>;
  private readonly worker: Worker;
  private readonly logger: Logger;
  private stopping: Promise<void> | undefined;

  constructor(options: HeartbeatThreadOptions) {
    this.logger = options.logger ?? silentLogger();
    this.worker = new Worker(new URL('./heartbeat-thread-main.js', import.meta.url), { workerData: options.data, name: 'heartbeat' });
    this.registered = new Promise((resolve, reject) => {
      this.worker.on('message', (report: ThreadReport) => {
        if (report.kind !== 'registered') return;
        if (report.first) resolve(report.worker);
      });
      const fail = (err: Error): void => {
        reject(err);
        if (this.stopping === undefined) options.onFailure?.(err);
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`heartbeat thread exited (code ${code})`)));
    });
    this.registered.catch(() => undefined);
  }

  /** Stops heartbeating and, when asked, deregisters; idempotent. Rejects if deregistering failed. */
  stop(options: { deregister: boolean }): Promise<void> {
    this.stopping ??= this.doStop(options.deregister);
    return this.stopping;
  }

  private async doStop(deregister: boolean): Promise<void> {
    const exited = once(this.worker, 'exit').catch(() => undefined);
    const stopped = new Promise<ThreadReport & { kind: 'stopped' }>((resolve) => {
      this.worker.on('message', (report: ThreadReport) => {
        if (report.kind === 'stopped') resolve(report);
      });
    });
    this.worker.postMessage({ kind: 'stop', deregister } satisfies ThreadCommand);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), THREAD_STOP_TIMEOUT_MS);
    });
    // Node delivers a thread's messages before its 'exit' event, so 'exited' here means it died.
    const report = await Promise.race([stopped, exited.then(() => 'exited' as const), timeout]);
    clearTimeout(timer);
    await this.worker.terminate();
    if (report === 'exited') throw new Error('heartbeat thread exited before it could stop cleanly');
    if (report === undefined) throw new Error(`heartbeat thread did not stop within ${THREAD_STOP_TIMEOUT_MS} ms`);
    this.logger.debug('heartbeat thread stopped', report.stats);
    if (report.error !== undefined) throw new Error(`deregistration failed: ${report.error}`);
  }
}
