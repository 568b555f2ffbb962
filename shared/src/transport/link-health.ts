import { AddressMap } from './address-map.js';
import { MAX_RTT_PEERS } from './constants.js';
import type { Address } from './endpoint-stats.js';

/** How a caller's link to one worker behaves, as its own transport measures it. */
export interface LinkHealth {
  /** Smoothed round-trip time and its variation (RFC 6298), null before the first sample. */
  srttMs: number | null;
  rttvarMs: number | null;
  /** Of recent task sends, the share that were retransmissions (moving average). */
  retransmitRatio: number;
  /** Of recent answers, the share that were BUSY (moving average). */
  busyRatio: number;
  /** Since the worker last answered a task (ack or result); null if it never did. */
  lastAckAgeMs: number | null;
}

interface LinkState {
  retransmitRatio: number;
  busyRatio: number;
  lastAnswerAt: number;
}

/** Weight of the newest send or answer in the moving averages: about the last 20 count. */
const WEIGHT = 0.05;

/**
 * Per-peer link figures for observers (GET /v1/workers): moving averages updated on each send and
 * answer, so a link that degrades shows it within a few dozen messages and one that recovers
 * forgets. Bounded like the RTT table.
 */
export class LinkMonitor {
  private readonly links = new AddressMap<LinkState>(MAX_RTT_PEERS);

  sent(peer: Address, retransmission: boolean): void {
    const link = this.state(peer);
    link.retransmitRatio += WEIGHT * ((retransmission ? 1 : 0) - link.retransmitRatio);
  }

  answered(peer: Address, busy: boolean, now = Date.now()): void {
    const link = this.state(peer);
    link.busyRatio += WEIGHT * ((busy ? 1 : 0) - link.busyRatio);
    link.lastAnswerAt = now;
  }

  health(peer: Address, rtt: { srtt: number; rttvar: number } | undefined, now = Date.now()): LinkHealth | null {
    const link = this.links.get(peer);
    if (link === undefined) return null;
    const round = (n: number): number => Math.round(n * 1000) / 1000;
    return {
      srttMs: rtt === undefined || Number.isNaN(rtt.srtt) ? null : round(rtt.srtt),
      rttvarMs: rtt === undefined || Number.isNaN(rtt.rttvar) ? null : round(rtt.rttvar),
      retransmitRatio: round(link.retransmitRatio),
      busyRatio: round(link.busyRatio),
      lastAckAgeMs: link.lastAnswerAt === 0 ? null : now - link.lastAnswerAt,
    };
  }

  private state(peer: Address): LinkState {
    let link = this.links.get(peer);
    if (link === undefined) {
      link = { retransmitRatio: 0, busyRatio: 0, lastAnswerAt: 0 };
      this.links.set(peer, link);
    }
    return link;
  }
}
