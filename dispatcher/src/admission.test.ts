import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TaskmeshError } from '@taskmesh/shared';
import { MAX_RESULT_DEPTH, admitPayload, jsonDepth, measureResult, requestFingerprint } from './admission.js';

/** The obvious recursive definition, for comparison on values shallow enough for it. */
const reference = (value: unknown): number =>
  typeof value !== 'object' || value === null
    ? 0
    : 1 + Math.max(0, ...(Array.isArray(value) ? value : Object.values(value)).map(reference));

const limits = { maxPayloadBytes: 64 * 1024, maxPayloadDepth: 8 };

test('property: jsonDepth is the nesting depth, and passes the limit exactly when the value does', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 1, max: 14 }), (value, limit) => {
      const depth = reference(value);
      assert.equal(jsonDepth(value, 64), depth);
      assert.equal(jsonDepth(value, limit) > limit, depth > limit);
    }),
  );
});

test('a payload nested 100,000 deep is measured without overflowing the stack', () => {
  const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
  assert.equal(jsonDepth(deep, 32), 33);
  assert.throws(
    () => admitPayload('reverse', deep, limits),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'PAYLOAD_TOO_LARGE',
  );
});

test('property: admission either admits a payload or refuses it with a 4xx TaskmeshError, never anything else', () => {
  fc.assert(
    fc.property(
      fc.constantFrom('reverse', 'hash', 'sum', 'upper', 'wait', 'image', 'custom'),
      fc.jsonValue({ maxDepth: 10 }),
      (type, payload) => {
        try {
          const { payloadBytes } = admitPayload(type, payload, limits);
          assert.equal(payloadBytes, Buffer.byteLength(JSON.stringify(payload), 'utf8'));
        } catch (err) {
          assert.ok(err instanceof TaskmeshError, String(err));
          assert.ok(err.status === 400 || err.status === 413, `${err.code} ${err.status}`);
        }
      },
    ),
  );
});

test('the fingerprint of a request ignores key order and tells other types and payloads apart', () => {
  assert.equal(requestFingerprint('hash', { text: 'a', algorithm: 'sha1' }), requestFingerprint('hash', { algorithm: 'sha1', text: 'a' }));
  assert.notEqual(requestFingerprint('hash', { text: 'a' }), requestFingerprint('upper', { text: 'a' }));
  assert.notEqual(requestFingerprint('hash', { text: 'a' }), requestFingerprint('hash', { text: 'b' }));
  assert.notEqual(requestFingerprint('hash', ['a', 'b']), requestFingerprint('hash', ['b', 'a']));
});

test('a result that could not be served later is refused when it arrives, saying why', () => {
  const deep = JSON.parse(`${'['.repeat(MAX_RESULT_DEPTH + 1)}${']'.repeat(MAX_RESULT_DEPTH + 1)}`) as unknown;
  const refused = measureResult(deep);
  assert.ok(typeof refused === 'string' && /nests deeper than 256 levels/.test(refused), JSON.stringify(refused));
  // A result kept is measured and rendered once: its text goes to the journal and the answers.
  assert.deepEqual(measureResult({ text: 'olleh' }), { bytes: 16, text: '{"text":"olleh"}' });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = { cyclic };
  assert.equal(typeof measureResult(cyclic), 'string');
});
