import type { Logger } from '../logger.js';
import { DROP_WARN_INTERVAL_MS } from './constants.js';
import type { Address, DropReason, EndpointStats } from './endpoint-stats.js';

/**
 * Counts dropped input and logs it without letting a flood of bad datagrams flood the log: each
 * drop at debug, and at most one warning per interval summarising what was dropped since.
 */
export class DropCounter {
  private sinceWarn: Partial<Record<DropReason, number>> = {};
  private lastWarnAt = -Infinity;

  constructor(
    private readonly stats: EndpointStats,
    private readonly logger: Logger,
    private readonly intervalMs = DROP_WARN_INTERVAL_MS,
  ) {}

  drop(reason: DropReason, detail: string, from: Address): void {
    this.stats.dropped[reason]++;
    this.stats.droppedTotal++;
    this.sinceWarn[reason] = (this.sinceWarn[reason] ?? 0) + 1;
    if (this.logger.isDebugEnabled()) this.logger.debug('datagram dropped', { reason, detail, from: `${from.host}:${from.port}` });
    const now = Date.now();
    if (now - this.lastWarnAt >= this.intervalMs) {
      this.logger.warn('dropped invalid datagrams', { dropped: this.sinceWarn, lastFrom: `${from.host}:${from.port}`, lastDetail: detail });
      this.sinceWarn = {};
      this.lastWarnAt = now;
    }
  }
}
