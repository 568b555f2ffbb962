import { MAX_REPLAY_SENDERS, REPLAY_BITMAP_WIDTH, REPLAY_WINDOW_MS } from './constants.js';

export interface ReplayGuardOptions {
  windowMs?: number;
  /** Multiple of 32. */
  bitmapWidth?: number;
  maxSenders?: number;
}

interface SenderState {
  highest: number;
  bits: Uint32Array;
  newestTimestampMs: number;
}

export type ReplayVerdict = 'ok' | 'stale' | 'duplicate';

/**
 * Anti-replay for authenticated frames, as in DTLS/IPsec: a frame must carry a timestamp within
 * ±windowMs of the local clock, and its (sender id, counter) must not have been seen. Per sender a
 * sliding bitmap remembers the last `bitmapWidth` counters; older counters are refused. At most
 * `maxSenders` states are kept (least recently heard forgotten first), so memory stays flat.
 *
 * Forgetting a sender would let its frames be replayed while their timestamps are still fresh;
 * to close that gap, frames from a sender without state must be newer than the newest timestamp
 * of any forgotten sender. That only bites under more than `maxSenders` senders within a window.
 */
export class ReplayGuard {
  private readonly windowMs: number;
  private readonly width: number;
  private readonly maxSenders: number;
  private readonly senders = new Map<string, SenderState>();
  private lastKey = '';
  private forgottenFloorMs = -Infinity;

  constructor(options: ReplayGuardOptions = {}) {
    this.windowMs = options.windowMs ?? REPLAY_WINDOW_MS;
    this.width = options.bitmapWidth ?? REPLAY_BITMAP_WIDTH;
    this.maxSenders = options.maxSenders ?? MAX_REPLAY_SENDERS;
    if (this.width <= 0 || this.width % 32 !== 0) throw new RangeError('bitmapWidth must be a positive multiple of 32');
  }

  /** Checks a frame and, if it passes, records it. Call only after the HMAC was verified. */
  check(senderKey: string, counter: number, timestampMs: number, nowMs: number): ReplayVerdict {
    if (!(Math.abs(timestampMs - nowMs) <= this.windowMs)) return 'stale';
    let state = this.senders.get(senderKey);
    if (state === undefined) {
      if (timestampMs <= this.forgottenFloorMs) return 'stale';
      state = { highest: counter, bits: new Uint32Array(this.width / 32), newestTimestampMs: timestampMs };
      this.mark(state, counter);
      this.senders.set(senderKey, state);
      this.lastKey = senderKey;
      if (this.senders.size > this.maxSenders) this.forgetOldest();
      return 'ok';
    }
    if (senderKey !== this.lastKey) {
      // Map order is the LRU order: re-insert to move to the end.
      this.senders.delete(senderKey);
      this.senders.set(senderKey, state);
      this.lastKey = senderKey;
    }
    if (counter > state.highest) {
      const ahead = counter - state.highest;
      if (ahead >= this.width) state.bits.fill(0);
      else for (let c = state.highest + 1; c < counter; c++) this.clear(state, c);
      state.highest = counter;
      this.mark(state, counter);
    } else {
      if (state.highest - counter >= this.width) return 'duplicate';
      const slot = counter % this.width;
      const word = slot >>> 5;
      const bit = 1 << (slot & 31);
      if (((state.bits[word] ?? 0) & bit) !== 0) return 'duplicate';
      this.mark(state, counter);
    }
    if (timestampMs > state.newestTimestampMs) state.newestTimestampMs = timestampMs;
    return 'ok';
  }

  /** Senders with state (for tests and stats). */
  get size(): number {
    return this.senders.size;
  }

  private mark(state: SenderState, counter: number): void {
    const slot = counter % this.width;
    state.bits[slot >>> 5] = (state.bits[slot >>> 5] ?? 0) | (1 << (slot & 31));
  }

  private clear(state: SenderState, counter: number): void {
    const slot = counter % this.width;
    state.bits[slot >>> 5] = (state.bits[slot >>> 5] ?? 0) & ~(1 << (slot & 31));
  }

  private forgetOldest(): void {
    const oldest = this.senders.keys().next();
    if (oldest.done === true) return;
    const state = this.senders.get(oldest.value);
    if (state !== undefined && state.newestTimestampMs > this.forgottenFloorMs) this.forgottenFloorMs = state.newestTimestampMs;
    this.senders.delete(oldest.value);
  }
}
