import type { Logger } from '@taskmesh/shared';
import { PERSIST_INTERVAL_MS, PERSIST_RETRY_MS, URGENT_PERSIST_DELAY_MS } from './constants.js';

/**
 * Coalesces registry writes. Heartbeats mark the registry dirty many times a second; this turns
 * that into at most one write per `intervalMs`, while membership changes are written within
 * `urgentDelayMs`. One write at a time; a failed write is retried, never thrown at the caller.
 */
export interface PersistSchedulerOptions {
  /** Writes the current state; called with no other write in flight. */
  write: () => Promise<void>;
  logger: Logger;
  intervalMs?: number;
  urgentDelayMs?: number;
  retryMs?: number;
}

export class PersistScheduler {
  private readonly write: () => Promise<void>;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly urgentDelayMs: number;
  private readonly retryMs: number;
  private dirty = false;
  private urgent = false;
  private closed = false;
  private failing = false;
  private lastWriteAt = 0;
  private notBefore = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private writing: Promise<void> | undefined;
  /** Completed writes, for tests and health output. */
  writes = 0;

  constructor(options: PersistSchedulerOptions) {
    this.write = options.write;
    this.logger = options.logger;
    this.intervalMs = options.intervalMs ?? PERSIST_INTERVAL_MS;
    this.urgentDelayMs = options.urgentDelayMs ?? URGENT_PERSIST_DELAY_MS;
    this.retryMs = options.retryMs ?? PERSIST_RETRY_MS;
  }

  /** Records that the state changed; `urgent` for changes that should reach disk promptly. */
  markDirty(urgent: boolean): void {
    this.dirty = true;
    this.urgent ||= urgent;
    this.schedule();
  }

  /** Writes now if anything is unwritten, after any write in flight; resolves when on disk (or failed). */
  async flush(): Promise<void> {
    if (this.writing) await this.writing;
    if (!this.dirty) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.run();
  }

  /** Stops scheduling and writes what is left. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private schedule(): void {
    if (this.closed || !this.dirty || this.writing) return;
    const now = Date.now();
    const wanted = this.urgent ? now + this.urgentDelayMs : this.lastWriteAt + this.intervalMs;
    const due = Math.max(now, wanted, this.notBefore);
    if (this.timer && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    // Not unref'd: pending changes keep the process alive until they are on disk.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, due - now);
  }

  private run(): Promise<void> {
    if (this.writing) return this.writing;
    this.dirty = false;
    this.urgent = false;
    this.writing = this.write()
      .then(
        () => {
          this.writes += 1;
          this.lastWriteAt = Date.now();
          if (this.failing) this.logger.info('registry file written again', { event: 'persist-recovered' });
          this.failing = false;
        },
        (err: unknown) => {
          // Keep the state dirty and try again later; the registry in memory is still right.
          this.dirty = true;
          this.notBefore = Date.now() + this.retryMs;
          const log = this.failing ? this.logger.debug.bind(this.logger) : this.logger.error.bind(this.logger);
          log(`cannot write the registry file: ${(err as Error).message}; retrying every ${this.retryMs} ms`, { event: 'persist-failed' });
          this.failing = true;
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.schedule();
      });
    return this.writing;
  }
}
