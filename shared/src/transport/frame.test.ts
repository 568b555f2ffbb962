import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { FRAME_HEADER_BYTES, FRAME_MAC_BYTES, MAX_CHUNK_PAYLOAD, MAX_DATAGRAM_BYTES, REPLAY_WINDOW_MS } from './constants.js';
import { DatagramReader } from './datagram-reader.js';
import { FRAME_TYPE, FrameCodec, decodeNackPayload, encodeNackPayload, frameKey, type FrameHeader } from './frame.js';
import { ReplayGuard } from './replay-guard.js';

const codec = new FrameCodec('frame-test-secret');
const sender = randomBytes(8);
const receiver = randomBytes(8);
const header = (over: Partial<FrameHeader> = {}): FrameHeader => ({
  type: FRAME_TYPE.data,
  timestampMs: Date.now(),
  sender,
  receiver,
  counter: 1,
  messageId: 7,
  chunkIndex: 0,
  chunkCount: 1,
  ...over,
});
const json = Buffer.from('[{"v":2,"kind":"result-ack","taskIds":["t1"]}]');

test('a frame round-trips every header field and the payload', () => {
  const at = 1_732_000_000_123;
  const datagram = codec.encode(
    header({ timestampMs: at, counter: 2 ** 48 - 2, messageId: 0xabcdef01, chunkIndex: 3, chunkCount: 9 }),
    json,
  );
  assert.equal(datagram.length, FRAME_HEADER_BYTES + json.length + FRAME_MAC_BYTES);
  const decoded = codec.decode(datagram);
  assert.ok(decoded.ok, JSON.stringify(decoded));
  const { frame } = decoded;
  assert.equal(frame.type, FRAME_TYPE.data);
  assert.equal(frame.timestampMs, at);
  assert.deepEqual(Buffer.from(frame.sender), sender);
  assert.deepEqual(Buffer.from(frame.receiver), receiver);
  assert.equal(frame.counter, 2 ** 48 - 2);
  assert.equal(frame.messageId, 0xabcdef01);
  assert.equal(frame.chunkIndex, 3);
  assert.equal(frame.chunkCount, 9);
  assert.deepEqual(Buffer.from(frame.payload), json);
});

test('a NACK frame carries the missing indices', () => {
  const datagram = codec.encode(header({ type: FRAME_TYPE.nack, chunkCount: 0 }), encodeNackPayload([0, 5, 65535]));
  const decoded = codec.decode(datagram);
  assert.ok(decoded.ok);
  assert.equal(decoded.frame.type, FRAME_TYPE.nack);
  assert.deepEqual(decodeNackPayload(decoded.frame.payload), [0, 5, 65535]);
});

test('any changed byte, a wrong secret or a cut datagram fails authentication or size', () => {
  const datagram = codec.encode(header(), json);
  for (let i = 0; i < datagram.length; i++) {
    const tampered = Buffer.from(datagram);
    tampered[i] = (tampered[i] ?? 0) ^ 0x01;
    const decoded = codec.decode(tampered);
    assert.equal(decoded.ok, false);
    assert.equal(!decoded.ok && decoded.reason, 'auth', `byte ${i}`);
  }
  const other = new FrameCodec('another-secret');
  const decoded = other.decode(datagram);
  assert.equal(!decoded.ok && decoded.reason, 'auth');
  const short = codec.decode(datagram.subarray(0, FRAME_HEADER_BYTES + FRAME_MAC_BYTES - 1));
  assert.equal(!short.ok && short.reason, 'size');
  const cut = codec.decode(datagram.subarray(0, datagram.length - 1));
  assert.equal(!cut.ok && cut.reason, 'auth');
  const tooBig = codec.decode(Buffer.alloc(MAX_DATAGRAM_BYTES + 1));
  assert.equal(!tooBig.ok && tooBig.reason, 'size');
});

test('authenticated frames with a bad header are malformed or a wrong version', () => {
  const badChunk = codec.decode(codec.encode(header({ chunkIndex: 2, chunkCount: 2 }), json));
  assert.equal(!badChunk.ok && badChunk.reason, 'malformed');
  const oddNack = codec.decode(codec.encode(header({ type: FRAME_TYPE.nack }), Buffer.from([1, 2, 3])));
  assert.equal(!oddNack.ok && oddNack.reason, 'malformed');
  // Re-sign a frame with version 9 to see the version check, not the HMAC, refuse it.
  const v9 = codec.encode(header(), json);
  v9[2] = 9;
  const decoded = codec.decode(resign(v9));
  assert.equal(!decoded.ok && decoded.reason, 'version');
});

test('the replay guard refuses stale timestamps and repeated counters, and accepts reordering', () => {
  const now = 1_000_000_000;
  const guard = new ReplayGuard({ bitmapWidth: 64 });
  assert.equal(guard.check('a', 1, now - REPLAY_WINDOW_MS - 1, now), 'stale');
  assert.equal(guard.check('a', 1, now + REPLAY_WINDOW_MS + 1, now), 'stale');
  assert.equal(guard.check('a', 10, now, now), 'ok');
  assert.equal(guard.check('a', 10, now, now), 'duplicate');
  // Out of order but inside the window: each accepted once.
  for (const c of [12, 11, 5, 9]) assert.equal(guard.check('a', c, now, now), 'ok', `counter ${c}`);
  for (const c of [12, 11, 5, 9]) assert.equal(guard.check('a', c, now, now), 'duplicate', `counter ${c}`);
  // Slide the window: counter 100 makes everything at or below 36 too old.
  assert.equal(guard.check('a', 100, now, now), 'ok');
  assert.equal(guard.check('a', 36, now, now), 'duplicate');
  assert.equal(guard.check('a', 37, now, now), 'ok');
  // Bits cleared while sliding: 10 + 64 was never seen.
  assert.equal(guard.check('a', 74, now, now), 'ok');
  // Another sender has its own window.
  assert.equal(guard.check('b', 10, now, now), 'ok');
  assert.equal(guard.check('c', 1, Number.NaN, now), 'stale');
});

test('the replay guard keeps bounded state and refuses old frames of forgotten senders', () => {
  const now = 1_000_000_000;
  const guard = new ReplayGuard({ maxSenders: 2 });
  assert.equal(guard.check('a', 1, now - 10, now), 'ok');
  assert.equal(guard.check('b', 1, now, now), 'ok');
  assert.equal(guard.check('c', 1, now, now), 'ok'); // forgets 'a'
  assert.equal(guard.size, 2);
  assert.equal(guard.check('a', 1, now - 10, now), 'stale', 'a replay of a forgotten sender');
  assert.equal(guard.check('a', 2, now + 1, now + 1), 'ok', 'new frames of that sender still pass');
});

test('property: random bytes never throw and are never accepted', () => {
  const reader = new DatagramReader(codec, receiver);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), (bytes) => {
      const result = reader.read(Buffer.from(bytes), Date.now());
      assert.equal(result.ok, false);
    }),
    { numRuns: 2000 },
  );
});

test('property: a mutated valid datagram is dropped, the original is accepted', () => {
  let counter = 0;
  const reader = new DatagramReader(codec, receiver);
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: MAX_CHUNK_PAYLOAD }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat({ max: 100 }), { nil: undefined }),
      (payload, flips, cut) => {
        const datagram = codec.encode(header({ counter: ++counter }), Buffer.from(payload));
        const mutated = Buffer.from(datagram);
        for (const [at, xor] of flips) {
          const i = at % mutated.length;
          mutated[i] = (mutated[i] ?? 0) ^ xor;
        }
        const variant = cut === undefined ? mutated : mutated.subarray(0, Math.max(0, mutated.length - 1 - cut));
        const bad = reader.read(variant, Date.now());
        // Flips may cancel out (same byte twice); then the datagram is the original.
        if (!variant.equals(datagram)) assert.equal(bad.ok, false);
        const good = reader.read(datagram, Date.now());
        if (variant.equals(datagram)) assert.equal(!good.ok && good.reason, 'replay');
        else assert.equal(good.ok, true);
        assert.equal(reader.read(datagram, Date.now()).ok, false, 'a replayed copy is refused');
      },
    ),
    { numRuns: 1000 },
  );
});

/** Recomputes the HMAC of a datagram whose header was edited (tests only). */
function resign(edited: Buffer): Buffer {
  const signed = Buffer.from(edited);
  const macAt = signed.length - FRAME_MAC_BYTES;
  createHmac('sha256', frameKey('frame-test-secret')).update(signed.subarray(0, macAt)).digest().copy(signed, macAt);
  return signed;
}

test("a frame signed for another endpoint is dropped as misdirected before the replay window: it never moves this endpoint's window", () => {
  const reader = new DatagramReader(codec, receiver);
  const elsewhere = randomBytes(8);
  // Captured on its way to another endpoint (counter 50) and replayed here.
  const misdirected = reader.read(codec.encode(header({ receiver: elsewhere, counter: 50 }), json), Date.now());
  assert.deepEqual(misdirected.ok ? 'accepted' : misdirected.reason, 'misdirected');
  // The sender's own frames to this endpoint, with that counter and below it, are still new here.
  for (const counter of [50, 10, 49]) {
    const own = reader.read(codec.encode(header({ counter }), json), Date.now());
    assert.equal(own.ok, true, `counter ${counter}: ${own.ok ? '' : own.detail}`);
  }
});
