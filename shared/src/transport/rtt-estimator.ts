import { backoffDelay } from '../backoff.js';
import { MAX_RTT_PEERS, RTO_MAX_MS, type RetransmitPolicy } from './constants.js';
import { AddressMap } from './address-map.js';
import type { Address } from './endpoint-stats.js';

interface Estimate {
  srtt: number;
  rttvar: number;
  /** Current retransmission timeout. */
  rto: number;
  backedOffAt: number;
}

/**
 * Retransmission timeouts per peer that follow the real round trip (RFC 6298: smoothed RTT plus
 * four times its variance, never below the policy's initial delay). A fixed 50 ms timeout
 * retransmits everything once a loaded peer's queueing delay passes it, which loads it further.
 * Only first transmissions are sampled (Karn's rule); a timeout doubles the peer's timeout (at most
 * once per timeout period, as many tasks time out together) until a fresh sample resets it.
 */
export class RttEstimator {
  private readonly peers = new AddressMap<Estimate>();

  constructor(private readonly policy: RetransmitPolicy) {}

  sample(peer: Address, rttMs: number): void {
    const e = this.estimate(peer);
    if (Number.isNaN(e.srtt)) {
      e.srtt = rttMs;
      e.rttvar = rttMs / 2;
    } else {
      e.rttvar = 0.75 * e.rttvar + 0.25 * Math.abs(e.srtt - rttMs);
      e.srtt = 0.875 * e.srtt + 0.125 * rttMs;
    }
    e.rto = Math.min(RTO_MAX_MS, Math.max(this.policy.initialDelayMs, e.srtt + 4 * e.rttvar));
  }

  /** A message to this peer went unanswered within its timeout. */
  timedOut(peer: Address, now = Date.now()): void {
    const e = this.estimate(peer);
    if (now - e.backedOffAt < e.rto) return;
    e.backedOffAt = now;
    e.rto = Math.min(RTO_MAX_MS, e.rto * 2);
  }

  /** Delay before retransmission number `retry` (0 = after the first send) to this peer. */
  /** The current estimate for a peer (for observers), or undefined before any exchange. */
  snapshot(peer: Address): { srtt: number; rttvar: number } | undefined {
    const e = this.peers.get(peer);
    return e === undefined ? undefined : { srtt: e.srtt, rttvar: e.rttvar };
  }

  delay(peer: Address, retry: number): number {
    const rto = this.peers.get(peer)?.rto ?? this.policy.initialDelayMs;
    if (rto === this.policy.initialDelayMs) return backoffDelay(this.policy, retry);
    return backoffDelay({ ...this.policy, initialDelayMs: rto, maxDelayMs: Math.max(this.policy.maxDelayMs, rto) }, retry);
  }

  private estimate(peer: Address): Estimate {
    let e = this.peers.get(peer);
    if (e === undefined) {
      // Bounded: past the limit start over (estimates are relearned within a few round trips).
      if (this.peers.size >= MAX_RTT_PEERS) this.peers.clear();
      e = { srtt: Number.NaN, rttvar: 0, rto: this.policy.initialDelayMs, backedOffAt: -Infinity };
      this.peers.set(peer, e);
    }
    return e;
  }
}
