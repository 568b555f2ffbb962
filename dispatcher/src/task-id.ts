import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn this many at a time: one system call per 256 ids. */
const POOL_BYTES = 256 * 8;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Task ids: UUID version 7 (RFC 9562) — 48 bits of Unix milliseconds, then a 12-bit counter for
 * ids made in the same millisecond, then 62 random bits. Ids made later sort later, as text too,
 * across restarts as long as the clock does not go back: the journal keeps tasks under their ids
 * and reads them back in submission order, and lists page through them newest first.
 */
export class TaskIds {
  private lastMs = 0;
  private counter = 0;
  private readonly pool = Buffer.alloc(POOL_BYTES);
  private offset = POOL_BYTES;

  constructor(private readonly now: () => number = Date.now) {}

  next(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      if (++this.counter > 0xfff) {
        // 4096 ids in one millisecond: borrow the next one (the clock catches up).
        ms++;
        this.counter = 0;
      }
    } else this.counter = 0;
    this.lastMs = ms;
    if (this.offset + 8 > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const r = this.pool;
    const o = this.offset;
    this.offset += 8;
    const time = ms.toString(16).padStart(12, '0');
    const counter = (0x7000 | this.counter).toString(16);
    const variant = HEX[((r[o] ?? 0) & 0x3f) | 0x80]! + HEX[r[o + 1] ?? 0]!;
    let tail = '';
    for (let i = o + 2; i < o + 8; i++) tail += HEX[r[i] ?? 0]!;
    return `${time.slice(0, 8)}-${time.slice(8)}-${counter}-${variant}-${tail}`;
  }
}
