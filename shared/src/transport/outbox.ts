import { OUTBOX_MAX_BYTES, OUTBOX_MAX_MESSAGES, OUTBOX_TTL_MS } from './constants.js';
import type { Address } from './endpoint-stats.js';

/** A sent multi-chunk message, kept to answer NACKs. */
export interface OutboxEntry {
  to: Address;
  receiver: Buffer;
  payload: Buffer;
  chunkCount: number;
  /** Bytes of every chunk but the last. */
  chunkSize: number;
  expiresAt: number;
}

/**
 * Recently sent multi-chunk messages by message id, bounded in age, count and bytes. Insertion
 * order is age order, so expiry and eviction only ever look at the front; no timer is needed.
 */
export class Outbox {
  private readonly entries = new Map<number, OutboxEntry>();
  private bytes = 0;

  constructor(
    private readonly ttlMs = OUTBOX_TTL_MS,
    private readonly maxMessages = OUTBOX_MAX_MESSAGES,
    private readonly maxBytes = OUTBOX_MAX_BYTES,
  ) {}

  put(messageId: number, entry: Omit<OutboxEntry, 'expiresAt'>, now = Date.now()): void {
    this.entries.set(messageId, { ...entry, expiresAt: now + this.ttlMs });
    this.bytes += entry.payload.length;
    this.evict(now);
  }

  get(messageId: number, now = Date.now()): OutboxEntry | undefined {
    const entry = this.entries.get(messageId);
    return entry !== undefined && entry.expiresAt > now ? entry : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private evict(now: number): void {
    for (const [id, entry] of this.entries) {
      const over = this.entries.size > this.maxMessages || this.bytes > this.maxBytes;
      if (!over && entry.expiresAt > now) break;
      this.entries.delete(id);
      this.bytes -= entry.payload.length;
    }
  }
}
