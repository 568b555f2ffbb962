import { AddressMap } from './address-map.js';
import type { Address } from './endpoint-stats.js';
import { LOOPBACK_DATAGRAM_PAYLOAD, MAX_CHUNK_PAYLOAD } from './constants.js';
import { packMessages } from './message-codec.js';

/** One encoded message waiting to leave. */
export interface Queued {
  json: string;
  bytes: number;
  /** Send only its first chunk if it needs several (see SendOptions.probe). */
  probe: boolean;
}

/** Messages waiting for one address; `size` is what they take packed as one JSON array. */
interface OutQueue {
  to: Address;
  /** The endpoint id of the peer at `to`, signed into every frame. */
  receiver: Buffer;
  limit: number;
  items: Queued[];
  size: number;
}

/** Where packed messages go. */
export interface CoalescerSink {
  /** One datagram's payload: a JSON array of messages. */
  datagram(to: Address, receiver: Buffer, payload: Buffer): void;
  /** A message too large for one datagram on its path: sent alone, in chunks. */
  large(to: Address, receiver: Buffer, item: Queued): void;
}

/**
 * Packs the messages sent to one address in one event-loop turn into as few datagrams as fit. A
 * full datagram leaves at once rather than at the end of the turn: a long turn (a batch of
 * hundreds of tasks, a datagram of results) then feeds its peers while it is still running.
 */
export class Coalescer {
  private readonly queues = new AddressMap<OutQueue>();

  constructor(
    private readonly sink: CoalescerSink,
    /** The payload limit of one datagram to an address. */
    private readonly limitOf: (to: Address) => number,
  ) {}

  add(to: Address, receiverOf: (to: Address) => Buffer, item: Queued): void {
    let queue = this.queues.get(to);
    if (queue === undefined) {
      queue = { to, receiver: receiverOf(to), limit: this.limitOf(to), items: [], size: 1 };
      this.queues.set(to, queue);
    } else if (queue.size + item.bytes + 1 > queue.limit && item.bytes + 2 <= queue.limit) {
      this.drain(queue);
    }
    queue.items.push(item);
    queue.size += item.bytes + 1;
  }

  /** Sends everything queued (the end of the turn). */
  flush(): void {
    this.queues.forEach(this.drainQueue);
    this.queues.clear();
  }

  private readonly drainQueue = (queue: OutQueue): void => this.drain(queue);

  /** Sends a queue's messages, packed into as few datagrams as fit, and empties it. */
  private drain(queue: OutQueue): void {
    const { to, receiver, items, limit } = queue;
    queue.items = [];
    queue.size = 1;
    let batch: string[] = [];
    let size = 1; // "[" ... each message adds its bytes plus "," or "]"
    for (const item of items) {
      if (item.bytes + 2 > limit) {
        this.sink.large(to, receiver, item);
        continue;
      }
      if (size + item.bytes + 1 > limit) {
        this.sink.datagram(to, receiver, Buffer.from(packMessages(batch), 'utf8'));
        batch = [];
        size = 1;
      }
      batch.push(item.json);
      size += item.bytes + 1;
    }
    if (batch.length > 0) this.sink.datagram(to, receiver, Buffer.from(packMessages(batch), 'utf8'));
  }
}

/** How many payload bytes one datagram of coalesced messages to `to` may carry. */
export function datagramPayloadLimit(to: Address): number {
  return isLoopback(to.host) ? LOOPBACK_DATAGRAM_PAYLOAD : MAX_CHUNK_PAYLOAD;
}

const isLoopback = (host: string): boolean =>
  host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.') || host === 'localhost';
