import type { Address } from './endpoint-stats.js';

/**
 * A map keyed by address without building a "host:port" string per lookup (on the hot path a
 * fresh string must be hashed every time; nested maps hash an interned host and a small integer).
 */
export class AddressMap<V> {
  private readonly hosts = new Map<string, Map<number, V>>();
  private count = 0;

  get(a: Address): V | undefined {
    return this.hosts.get(a.host)?.get(a.port);
  }

  set(a: Address, value: V): void {
    let ports = this.hosts.get(a.host);
    if (ports === undefined) {
      ports = new Map();
      this.hosts.set(a.host, ports);
    }
    if (!ports.has(a.port)) this.count++;
    ports.set(a.port, value);
  }

  delete(a: Address): void {
    const ports = this.hosts.get(a.host);
    if (ports?.delete(a.port) === true) {
      this.count--;
      if (ports.size === 0) this.hosts.delete(a.host);
    }
  }

  get size(): number {
    return this.count;
  }

  *values(): IterableIterator<V> {
    for (const ports of this.hosts.values()) yield* ports.values();
  }

  clear(): void {
    this.hosts.clear();
    this.count = 0;
  }
}
