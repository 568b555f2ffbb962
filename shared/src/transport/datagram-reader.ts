import { FrameCodec, type Frame } from './frame.js';
import { ReplayGuard, type ReplayGuardOptions } from './replay-guard.js';
import type { DropReason } from './endpoint-stats.js';

export type FrameReadResult = { ok: true; frame: Frame } | { ok: false; reason: DropReason; detail: string };

/**
 * The receive-side checks every datagram passes before its payload is looked at: size, HMAC
 * (before any field is read), frame header, the receiver it was signed for, then the replay
 * window. The receiver comes before the window: a frame captured on its way to another endpoint
 * and replayed here must not move this endpoint's window for its sender. Never throws.
 */
export class DatagramReader {
  private readonly replay: ReplayGuard;

  constructor(
    private readonly codec: FrameCodec,
    /** This endpoint's id: frames signed for another are dropped as misdirected. */
    private readonly receiver: Buffer,
    replay: ReplayGuardOptions = {},
  ) {
    this.replay = new ReplayGuard(replay);
  }

  read(datagram: Buffer, nowMs: number): FrameReadResult {
    const decoded = this.codec.decode(datagram);
    if (!decoded.ok) return decoded;
    const { frame } = decoded;
    if (!frame.receiver.equals(this.receiver)) {
      // Signed for another endpoint: a frame captured elsewhere and replayed here.
      return { ok: false, reason: 'misdirected', detail: `frame for endpoint ${frame.receiver.toString('hex')}` };
    }
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
