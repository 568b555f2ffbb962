import { FrameCodec, type Frame } from './frame.js';
import { ReplayGuard, type ReplayGuardOptions } from './replay-guard.js';
import type { DropReason } from './endpoint-stats.js';

export type FrameReadResult = { ok: true; frame: Frame } | { ok: false; reason: DropReason; detail: string };

/**
 * The receive-side checks every datagram passes before its payload is looked at: size, HMAC
 * (before any field is read), frame header, then the replay window. Never throws.
 */
export class DatagramReader {
  private readonly replay: ReplayGuard;

  constructor(
    private readonly codec: FrameCodec,
    replay: ReplayGuardOptions = {},
  ) {
    this.replay = new ReplayGuard(replay);
  }

  read(datagram: Buffer, nowMs: number): FrameReadResult {
    const decoded = this.codec.decode(datagram);
    if (!decoded.ok) return decoded;
    const { frame } = decoded;
    const verdict = this.replay.check(frame.senderKey, frame.counter, frame.timestampMs, nowMs);
    if (verdict !== 'ok') {
      return {
        ok: false,
        reason: 'replay',
        detail: verdict === 'stale' ? `timestamp ${frame.timestampMs} outside the window` : `counter ${frame.counter} already seen`,
      };
    }
    return decoded;
  }
}
