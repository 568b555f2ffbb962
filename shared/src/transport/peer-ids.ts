import { AddressMap } from './address-map.js';
import type { Address } from './endpoint-stats.js';
import { ENDPOINT_ID_BYTES } from './frame.js';

/** Peers whose endpoint id is remembered (learned from their frames); past it the table restarts. */
const MAX_KNOWN_PEERS = 4096;
/** The receiver id of a frame to a peer whose id is unknown: no endpoint has it, so it is dropped there. */
const NO_RECEIVER = Buffer.alloc(ENDPOINT_ID_BYTES);

/**
 * Whom each frame is for: the endpoint id a sender was given for an address (a worker's, from its
 * registration), else the one that address's own authenticated frames carried.
 */
export class PeerIds {
  private readonly ids = new AddressMap<Buffer>(MAX_KNOWN_PEERS);

  /** The id to sign into frames to `to`. */
  readonly receiverOf = (to: Address): Buffer => {
    if (to.id !== undefined && to.id.length === ENDPOINT_ID_BYTES * 2) return Buffer.from(to.id, 'hex');
    return this.ids.get(to) ?? NO_RECEIVER;
  };

  /** Remembers the id a peer's frames carry, to address what is sent back to it. */
  learn(from: Address, sender: Buffer): void {
    const known = this.ids.get(from);
    if (known !== undefined && known.equals(sender)) return;
    this.ids.set(from, Buffer.from(sender));
  }
}
