import type { Address } from './endpoint-stats.js';

/**
 * A map keyed by address without building a "host:port" string per lookup (on the hot path a
 * fresh string must be hashed every time; nested maps hash an interned host and a small integer).
 */
export class AddressMap<V> {
  private readonly hosts = new Map<string, Map<number, V>>();
  private count = 0;

  /**
   * `maxSize` bounds a table of peers learned from the network: adding one more address to a full
   * map starts it afresh (host maps included), so neither entries nor hosts grow without bound.
   */
  constructor(private readonly maxSize = Number.POSITIVE_INFINITY) {}

  get(address: Address): V | undefined {
    return this.hosts.get(address.host)?.get(address.port);
  }

  set(address: Address, value: V): void {
    let ports = this.hosts.get(address.host);
    if (ports?.has(address.port) !== true) {
      if (this.count >= this.maxSize) {
        this.hosts.clear();
        this.count = 0;
        ports = undefined;
      }
      this.count++;
    }
    if (ports === undefined) {
      ports = new Map();
      this.hosts.set(address.host, ports);
    }
    ports.set(address.port, value);
  }

  delete(address: Address): void {
    if (this.hosts.get(address.host)?.delete(address.port) === true) this.count--;
  }

  get size(): number {
    return this.count;
  }

  /** Calls `fn` with every value. No generator or iterator per value: this runs on every flush. */
  forEach(fn: (value: V) => void): void {
    if (this.count === 0) return;
    for (const ports of this.hosts.values()) if (ports.size > 0) ports.forEach(fn);
  }

  /** Empties the map; the per-host maps stay for the next turn (a handful of hosts, reused every flush). */
  clear(): void {
    if (this.count === 0) return;
    for (const ports of this.hosts.values()) ports.clear();
    this.count = 0;
  }
}
