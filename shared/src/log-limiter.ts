import type { Logger } from './logger.js';

/** Warnings about refused requests logged per interval at most; past it they are counted. */
const WARNINGS_PER_INTERVAL = 10;
const INTERVAL_MS = 10_000;
/** The most of a client's text (a path, a header) a log line carries. */
const LOGGED_CLIENT_TEXT_CHARS = 120;

/**
 * Warnings that a client can cause (a refused signature, a bad request), without letting a flood
 * of requests flood the log and the disk under it: at most WARNINGS_PER_INTERVAL lines per
 * interval, then one line saying how many were left out; what the client sent is clipped.
 */
export class LogLimiter {
  private windowStart = -Infinity;
  private inWindow = 0;
  private suppressed = 0;
  /** Warnings left out since the start. */
  suppressedTotal = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly perInterval = WARNINGS_PER_INTERVAL,
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  warn(message: string, meta: Record<string, unknown>): void {
    const now = this.now();
    if (now - this.windowStart >= this.intervalMs) {
      if (this.suppressed > 0)
        this.logger.warn('similar warnings left out', { event: 'warnings-suppressed', count: this.suppressed, overMs: this.intervalMs });
      this.windowStart = now;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow >= this.perInterval) {
      this.suppressed++;
      this.suppressedTotal++;
      return;
    }
    this.inWindow++;
    this.logger.warn(message, meta);
  }
}

/** A client's text as a log line may carry it: at most LOGGED_CLIENT_TEXT_CHARS, control characters escaped by JSON. */
export function clipped(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  return text.length <= LOGGED_CLIENT_TEXT_CHARS ? text : `${text.slice(0, LOGGED_CLIENT_TEXT_CHARS)}… (${text.length} chars)`;
}
