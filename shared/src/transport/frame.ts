import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../request-signing.js';
import { FRAME_HEADER_BYTES, FRAME_MAC_BYTES, FRAME_VERSION, MAX_DATAGRAM_BYTES } from './constants.js';

/**
 * The binary frame every datagram is. Layout (big-endian):
 *
 *   0  magic "TM"          2   frame version u8     3  frame type u8 (0 data, 1 nack)
 *   4  timestamp ms u64   12  sender id (8 random bytes per endpoint start)
 *  20  receiver id (the sender id of the endpoint the frame is for)
 *  28  counter u48        34  message id u32      38  chunk index u16   40  chunk count u16
 *  42  payload (≤ LOOPBACK_DATAGRAM_PAYLOAD)    then HMAC-SHA256 (32) over all preceding bytes
 *
 * The receiver id is signed with the rest, so a frame captured on its way to one endpoint is
 * refused by every other (a worker restarted on the same address included): a replay can only
 * ever reach the endpoint that already saw it, whose replay guard drops it. The counter never
 * wraps (2^48 frames), so an endpoint keeps one sender id for its whole life.
 *
 * A data frame's payload is a slice of a UTF-8 JSON array of messages (the whole array when the
 * chunk count is 1). A NACK frame names the *peer's* message id and lists missing chunk indices
 * as u16s.
 */
export const FRAME_TYPE = { data: 0, nack: 1 } as const;
export type FrameType = (typeof FRAME_TYPE)[keyof typeof FRAME_TYPE];

const MAGIC_0 = 0x54; // 'T'
const MAGIC_1 = 0x4d; // 'M'
const TWO_32 = 2 ** 32;
/** Offset of the sender id, also used as the replay-state key. */
const SENDER_AT = 12;
const RECEIVER_AT = 20;
const COUNTER_AT = 28;
/** Length of an endpoint id (sender and receiver). */
export const ENDPOINT_ID_BYTES = 8;

export interface FrameHeader {
  type: FrameType;
  timestampMs: number;
  /** 8 bytes. */
  sender: Buffer;
  /** 8 bytes: the id of the endpoint this frame is for. */
  receiver: Buffer;
  /** Below 2^48. */
  counter: number;
  messageId: number;
  chunkIndex: number;
  chunkCount: number;
}

export interface Frame extends FrameHeader {
  /** The sender id as an 8-character latin1 string: a cheap map key. */
  senderKey: string;
  /** A view into the datagram. */
  payload: Buffer;
}

export type FrameDecodeResult =
  { ok: true; frame: Frame } | { ok: false; reason: 'size' | 'auth' | 'malformed' | 'version'; detail: string };

/** The purpose the frame key is derived for from TASKMESH_SECRET (see deriveKey). */
const FRAME_KEY_PURPOSE = 'udp frames';

/** The key frames are signed with: derived from the secret, so holding it gives no other key. */
export const frameKey = (secret: string): Buffer => deriveKey(secret, FRAME_KEY_PURPOSE);

/**
 * Signs and verifies frames with the frame key: given as that key, or as the shared secret it is
 * derived from.
 */
export class FrameCodec {
  private readonly key: Buffer;

  constructor(secretOrKey: string | Buffer) {
    if (secretOrKey.length === 0) throw new TypeError('the transport secret must not be empty');
    // A Buffer key measured faster per call than a KeyObject or a string key.
    this.key = typeof secretOrKey === 'string' ? frameKey(secretOrKey) : Buffer.from(secretOrKey);
  }

  /** Builds one authenticated datagram. */
  encode(header: FrameHeader, payload: Buffer): Buffer {
    const macAt = FRAME_HEADER_BYTES + payload.length;
    const buf = Buffer.allocUnsafe(macAt + FRAME_MAC_BYTES);
    buf[0] = MAGIC_0;
    buf[1] = MAGIC_1;
    buf[2] = FRAME_VERSION;
    buf[3] = header.type;
    buf.writeUInt32BE(Math.floor(header.timestampMs / TWO_32), 4);
    buf.writeUInt32BE(header.timestampMs % TWO_32, 8);
    header.sender.copy(buf, SENDER_AT, 0, ENDPOINT_ID_BYTES);
    header.receiver.copy(buf, RECEIVER_AT, 0, ENDPOINT_ID_BYTES);
    buf.writeUIntBE(header.counter, COUNTER_AT, 6);
    buf.writeUInt32BE(header.messageId, 34);
    buf.writeUInt16BE(header.chunkIndex, 38);
    buf.writeUInt16BE(header.chunkCount, 40);
    payload.copy(buf, FRAME_HEADER_BYTES);
    createHmac('sha256', this.key).update(buf.subarray(0, macAt)).digest().copy(buf, macAt);
    return buf;
  }

  /**
   * Checks size, then the HMAC (constant-time) before reading any field, then the header.
   * Never throws on any input. Replay is checked by the caller (see ReplayGuard).
   */
  decode(buf: Buffer): FrameDecodeResult {
    const len = buf.length;
    if (len < FRAME_HEADER_BYTES + FRAME_MAC_BYTES || len > MAX_DATAGRAM_BYTES) {
      return { ok: false, reason: 'size', detail: `datagram of ${len} bytes` };
    }
    const macAt = len - FRAME_MAC_BYTES;
    const expected = createHmac('sha256', this.key).update(buf.subarray(0, macAt)).digest();
    if (!timingSafeEqual(expected, buf.subarray(macAt))) return { ok: false, reason: 'auth', detail: 'bad HMAC' };
    if (buf[0] !== MAGIC_0 || buf[1] !== MAGIC_1) return { ok: false, reason: 'malformed', detail: 'bad magic' };
    if (buf[2] !== FRAME_VERSION) {
      return { ok: false, reason: 'version', detail: `frame version ${buf[2]}, expected ${FRAME_VERSION}` };
    }
    const type = buf[3];
    if (type !== FRAME_TYPE.data && type !== FRAME_TYPE.nack) {
      return { ok: false, reason: 'malformed', detail: `frame type ${type}` };
    }
    const chunkIndex = buf.readUInt16BE(38);
    const chunkCount = buf.readUInt16BE(40);
    const payload = buf.subarray(FRAME_HEADER_BYTES, macAt);
    if (type === FRAME_TYPE.data && (chunkCount === 0 || chunkIndex >= chunkCount || payload.length === 0)) {
      return { ok: false, reason: 'malformed', detail: `chunk ${chunkIndex} of ${chunkCount}, ${payload.length} bytes` };
    }
    if (type === FRAME_TYPE.nack && (payload.length === 0 || payload.length % 2 !== 0)) {
      return { ok: false, reason: 'malformed', detail: `nack payload of ${payload.length} bytes` };
    }
    return {
      ok: true,
      frame: {
        type,
        timestampMs: buf.readUInt32BE(4) * TWO_32 + buf.readUInt32BE(8),
        sender: buf.subarray(SENDER_AT, SENDER_AT + ENDPOINT_ID_BYTES),
        senderKey: buf.toString('latin1', SENDER_AT, SENDER_AT + ENDPOINT_ID_BYTES),
        receiver: buf.subarray(RECEIVER_AT, RECEIVER_AT + ENDPOINT_ID_BYTES),
        counter: buf.readUIntBE(COUNTER_AT, 6),
        messageId: buf.readUInt32BE(34),
        chunkIndex,
        chunkCount,
        payload,
      },
    };
  }
}

/** NACK payload: the missing chunk indices as u16s. */
/**
 * The index a receiver NACKs alone to say it has the whole message (it frees the sender's window,
 * see ChunkPacer). No message has this many chunks, so a sender that does not know the signal
 * finds nothing to resend in it.
 */
export const NACK_COMPLETE = 0xffff;

export function encodeNackPayload(indices: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(indices.length * 2);
  indices.forEach((index, i) => buf.writeUInt16BE(index, i * 2));
  return buf;
}

export function decodeNackPayload(payload: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 1 < payload.length; at += 2) out.push(payload.readUInt16BE(at));
  return out;
}
