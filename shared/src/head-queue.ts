/** Past this many taken slots, and when they are over half the array, the array is compacted. */
const COMPACT_AFTER = 1024;

/**
 * A FIFO over an array with a moving head: `shift` is O(1) (it moves the head instead of
 * shifting the array) and the taken slots are dropped in one copy once they are over half of it.
 * A Map or an array used with Array#shift as a queue degrades under the dispatcher's load
 * (deleted slots pile up at the head, or every shift copies). The one queue of the codebase:
 * pending lanes, finished tasks in the store, the worker's result cache.
 */
export class HeadQueue<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Puts `item` first (a task going back to the head of its lane). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /** The first item, without taking it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) this.clear();
    else if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** The item `index` places after the first (0 is the first), or undefined past the last. */
  at(index: number): T | undefined {
    return index >= 0 && index < this.length ? this.items[this.head + index] : undefined;
  }

  /** Calls `fn` on each item, first to last. */
  forEach(fn: (item: T) => void): void {
    for (let i = this.head; i < this.items.length; i++) fn(this.items[i] as T);
  }

  /** Keeps only the items `keep` accepts, in order (one pass; for dropping stale entries in bulk). */
  retain(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (keep(item)) kept.push(item);
    }
    this.items = kept;
    this.head = 0;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
