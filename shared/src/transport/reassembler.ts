import { backoffDelay } from '../backoff.js';
import {
  COMPLETED_MESSAGE_MEMORY,
  MAX_NACKS,
  MAX_NACK_INDICES,
  MAX_REASSEMBLIES,
  MAX_REASSEMBLY_BYTES,
  NACK_DELAY_MS,
  NACK_RETRY,
  OUTBOX_TTL_MS,
} from './constants.js';
import type { Address } from './endpoint-stats.js';
import type { Frame } from './frame.js';

export interface ReassemblerOptions {
  /** Asks the sender for missing chunks of its message `messageId`. */
  sendNack: (to: Address, messageId: number, missing: number[]) => void;
  /** A message was abandoned (counted as a `reassembly` drop). */
  onAbandon: (detail: string, from: Address) => void;
  nackDelayMs?: number;
  maxNacks?: number;
  maxPending?: number;
  maxPendingBytes?: number;
  /** Past this age the sender's outbox no longer has the chunks: give up. */
  deadlineMs?: number;
}

interface Pending {
  key: string;
  from: Address;
  messageId: number;
  chunks: (Buffer | undefined)[];
  received: number;
  bytes: number;
  nacks: number;
  startedAt: number;
  timer: NodeJS.Timeout;
}

/**
 * Puts multi-chunk messages back together. When chunks stop arriving for a short gap, the missing
 * indices are NACKed to the sender (a bounded number of times, spaced by backoff); a message that
 * cannot be completed is abandoned. Memory is bounded in count and bytes (oldest abandoned first).
 */
export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  /** Recently completed keys, so a late duplicate chunk does not start the message again. */
  private readonly completed = new Set<string>();
  private bytes = 0;
  private readonly nackDelayMs: number;
  private readonly maxNacks: number;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly deadlineMs: number;

  constructor(private readonly options: ReassemblerOptions) {
    this.nackDelayMs = options.nackDelayMs ?? NACK_DELAY_MS;
    this.maxNacks = options.maxNacks ?? MAX_NACKS;
    this.maxPending = options.maxPending ?? MAX_REASSEMBLIES;
    this.maxPendingBytes = options.maxPendingBytes ?? MAX_REASSEMBLY_BYTES;
    this.deadlineMs = options.deadlineMs ?? OUTBOX_TTL_MS;
  }

  /** Adds one chunk; returns the whole payload when this chunk completed the message. */
  add(frame: Frame, from: Address): Buffer | undefined {
    const key = `${frame.senderKey}:${frame.messageId}`;
    if (this.completed.has(key)) return undefined;
    let entry = this.pending.get(key);
    if (entry === undefined) {
      entry = {
        key,
        from,
        messageId: frame.messageId,
        chunks: new Array<Buffer | undefined>(frame.chunkCount),
        received: 0,
        bytes: 0,
        nacks: 0,
        startedAt: Date.now(),
        timer: setTimeout(this.quietTimerFired, this.nackDelayMs, key).unref(),
      };
      this.pending.set(key, entry);
      if (this.pending.size > this.maxPending) this.abandonOldest(`more than ${this.maxPending} incomplete messages`);
    } else if (entry.chunks.length !== frame.chunkCount) {
      this.abandon(entry, `chunk count changed from ${entry.chunks.length} to ${frame.chunkCount}`);
      return undefined;
    }
    if (entry.chunks[frame.chunkIndex] !== undefined) return undefined;
    // The frame's payload is a view into a datagram buffer that Node may reuse: copy it.
    entry.chunks[frame.chunkIndex] = Buffer.from(frame.payload);
    entry.received++;
    entry.bytes += frame.payload.length;
    this.bytes += frame.payload.length;
    if (entry.received === entry.chunks.length) {
      this.finish(entry);
      this.rememberCompleted(key);
      return Buffer.concat(entry.chunks as Buffer[], entry.bytes);
    }
    // Progress: restart the quiet-gap timer, and give NACKs a fresh budget.
    entry.nacks = 0;
    entry.timer.refresh();
    while (this.bytes > this.maxPendingBytes && this.pending.size > 1)
      this.abandonOldest(`more than ${this.maxPendingBytes} bytes incomplete`);
    return undefined;
  }

  /** Gives up a message for good (it is too large): chunks held for it are let go, later ones ignored. */
  refuse(frame: Frame): void {
    const key = `${frame.senderKey}:${frame.messageId}`;
    const entry = this.pending.get(key);
    if (entry !== undefined) this.finish(entry);
    this.rememberCompleted(key);
  }

  /** Incomplete messages held now. */
  get size(): number {
    return this.pending.size;
  }

  close(): void {
    for (const entry of this.pending.values()) clearTimeout(entry.timer);
    this.pending.clear();
    this.completed.clear();
    this.bytes = 0;
  }

  /** Decides in the check phase, after the poll phase read chunks already waiting in the socket. */
  private readonly quietTimerFired = (key: string): void => {
    setImmediate(this.onQuiet, key);
  };

  private readonly onQuiet = (key: string): void => {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    if (entry.nacks >= this.maxNacks || Date.now() - entry.startedAt > this.deadlineMs) {
      this.abandon(entry, `${entry.received}/${entry.chunks.length} chunks after ${entry.nacks} NACKs`);
      return;
    }
    const missing: number[] = [];
    for (let i = 0; i < entry.chunks.length && missing.length < MAX_NACK_INDICES; i++) {
      if (entry.chunks[i] === undefined) missing.push(i);
    }
    entry.nacks++;
    entry.timer = setTimeout(this.quietTimerFired, backoffDelay(NACK_RETRY, entry.nacks - 1), key).unref();
    this.options.sendNack(entry.from, entry.messageId, missing);
  };

  private abandonOldest(detail: string): void {
    const oldest = this.pending.values().next();
    if (oldest.done !== true) this.abandon(oldest.value, detail);
  }

  private abandon(entry: Pending, detail: string): void {
    this.finish(entry);
    this.options.onAbandon(`message ${entry.messageId}: ${detail}`, entry.from);
  }

  private finish(entry: Pending): void {
    clearTimeout(entry.timer);
    this.pending.delete(entry.key);
    this.bytes -= entry.bytes;
  }

  private rememberCompleted(key: string): void {
    this.completed.add(key);
    if (this.completed.size > COMPLETED_MESSAGE_MEMORY) {
      const oldest = this.completed.values().next();
      if (oldest.done !== true) this.completed.delete(oldest.value);
    }
  }
}
