import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION, type Outgoing } from '../protocol.js';
import { FRAME_TYPE, FrameCodec, type Frame } from '../transport/frame.js';

/**
 * Datagrams made and read by hand, for tests that play a peer no endpoint would be: one that
 * replays, forges with the secret, or never answers.
 */
export function signedDatagram(options: {
  secret: string;
  receiverId: string;
  /** The messages to carry (each given the protocol version), or `payload`, the raw text, as it is. */
  messages?: Outgoing[];
  payload?: string;
  counter?: number;
  sender?: Buffer;
}): Buffer {
  const text = options.payload ?? JSON.stringify((options.messages ?? []).map((m) => ({ v: PROTOCOL_VERSION, ...m })));
  const payload = Buffer.from(text, 'utf8');
  return new FrameCodec(options.secret).encode(
    {
      type: FRAME_TYPE.data,
      timestampMs: Date.now(),
      sender: options.sender ?? randomBytes(8),
      receiver: Buffer.from(options.receiverId, 'hex'),
      counter: options.counter ?? 1,
      messageId: options.counter ?? 1,
      chunkIndex: 0,
      chunkCount: 1,
    },
    payload,
  );
}

/** The frame of a datagram, or undefined when it does not authenticate with `secret`. */
export function readDatagram(secret: string, datagram: Buffer): Frame | undefined {
  const decoded = new FrameCodec(secret).decode(datagram);
  return decoded.ok ? decoded.frame : undefined;
}
