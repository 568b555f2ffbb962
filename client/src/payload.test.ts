import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CliError, EXIT } from './exit-codes.js';
import { parseNumber, parsePayload } from './payload.js';

/** Asserts a usage error whose message contains `part`. */
function throwsUsage(fn: () => unknown, part: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError, `expected CliError, got ${String(err)}`);
    assert.equal(err.exitCode, EXIT.USAGE);
    if (typeof part === 'string') assert.ok(err.message.includes(part), `"${err.message}" should contain "${part}"`);
    else assert.match(err.message, part);
    return true;
  });
}

test('reverse and upper join their words with spaces', () => {
  assert.deepEqual(parsePayload('reverse', ['hello']), { text: 'hello' });
  assert.deepEqual(parsePayload('reverse', ['hello', 'big', 'world']), { text: 'hello big world' });
  assert.deepEqual(parsePayload('upper', ['hello', 'there']), { text: 'hello there' });
  throwsUsage(() => parsePayload('reverse', []), 'reverse needs text');
  throwsUsage(() => parsePayload('upper', []), 'upper needs text');
});

test('hash takes text plus --algorithm and --encoding, checked against the allowed values', () => {
  assert.deepEqual(parsePayload('hash', ['hello']), { text: 'hello' });
  assert.deepEqual(parsePayload('hash', ['hello'], { algorithm: 'sha1', encoding: 'base64' }), {
    text: 'hello',
    algorithm: 'sha1',
    encoding: 'base64',
  });
  throwsUsage(() => parsePayload('hash', ['x'], { algorithm: 'sha3' }), '--algorithm: "sha3" is not one of sha256, sha1, sha512, md5');
  throwsUsage(() => parsePayload('hash', ['x'], { encoding: 'binary' }), '--encoding: "binary"');
  throwsUsage(() => parsePayload('reverse', ['x'], { algorithm: 'sha1' }), '--algorithm applies only to hash tasks, not reverse');
});

test('sum keeps safe numbers as numbers and big integers as exact strings', () => {
  assert.deepEqual(parsePayload('sum', ['1', '2', '3']), { numbers: [1, 2, 3] });
  assert.deepEqual(parsePayload('sum', ['1,2', '3.5', '-4', '1e3']), { numbers: [1, 2, 3.5, -4, 1000] });
  assert.deepEqual(parsePayload('sum', ['9007199254740993', '+12345678901234567890', '1']), {
    numbers: ['9007199254740993', '12345678901234567890', 1],
  });
  assert.deepEqual(parsePayload('sum', ['9007199254740991']), { numbers: [9007199254740991] });
});

test('sum names the word that is not a number', () => {
  throwsUsage(() => parsePayload('sum', ['1', 'x']), 'sum: "x" is not a number');
  throwsUsage(() => parsePayload('sum', ['1', '2abc']), '"2abc"');
  throwsUsage(() => parsePayload('sum', ['0x10']), '"0x10"');
  throwsUsage(() => parsePayload('sum', ['1e999']), '"1e999" is out of range');
  throwsUsage(() => parsePayload('sum', []), 'sum needs at least one number');
  throwsUsage(() => parsePayload('sum', [',']), 'sum needs at least one number');
});

test('parseNumber: every integer string round-trips, exactly', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (n) => {
      const parsed = parseNumber(n.toString());
      if (typeof parsed === 'number') {
        assert.ok(Number.isSafeInteger(parsed));
        assert.equal(BigInt(parsed), n);
      } else {
        assert.equal(BigInt(parsed), n);
        assert.ok(!Number.isSafeInteger(Number(n)));
      }
    }),
  );
});

test('wait takes one whole number of milliseconds', () => {
  assert.deepEqual(parsePayload('wait', ['500']), { ms: 500 });
  assert.deepEqual(parsePayload('wait', ['0']), { ms: 0 });
  throwsUsage(() => parsePayload('wait', ['1.5']), 'wait: "1.5" is not a whole number');
  throwsUsage(() => parsePayload('wait', ['soon']), '"soon"');
  throwsUsage(() => parsePayload('wait', []), 'wait takes one duration');
  throwsUsage(() => parsePayload('wait', ['1', '2']), 'wait takes one duration');
});

test('image takes its options, and words as text', () => {
  assert.deepEqual(parsePayload('image', []), {});
  assert.deepEqual(parsePayload('image', [], { text: 'hi', width: '320', height: '200', format: 'jpeg' }), {
    text: 'hi',
    width: 320,
    height: 200,
    format: 'jpeg',
  });
  assert.deepEqual(parsePayload('image', ['hello', 'there']), { text: 'hello there' });
  throwsUsage(() => parsePayload('image', [], { width: '0' }), '--width: "0"');
  // The image type's own limit (shared), not a looser one of the CLI's.
  throwsUsage(() => parsePayload('image', [], { width: '4096' }), '--width: "4096" is not a whole number of pixels from 16 to 2048');
  throwsUsage(() => parsePayload('image', [], { height: 'tall' }), '--height: "tall"');
  throwsUsage(() => parsePayload('image', [], { format: 'gif' }), '--format: "gif" is not one of png, jpeg');
  throwsUsage(() => parsePayload('sum', ['1'], { width: '3' }), '--width applies only to image tasks');
});

test('a JSON object argument is the payload, for any type; options still apply', () => {
  assert.deepEqual(parsePayload('reverse', ['{"text":"hi"}']), { text: 'hi' });
  assert.deepEqual(parsePayload('sum', ['{"numbers":[1,"2"]}']), { numbers: [1, '2'] });
  assert.deepEqual(parsePayload('custom-type', [' {"a":{"b":[1]}}']), { a: { b: [1] } });
  assert.deepEqual(parsePayload('hash', ['{"text":"x"}'], { algorithm: 'md5' }), { text: 'x', algorithm: 'md5' });
  throwsUsage(() => parsePayload('reverse', ['{"text":']), 'payload is not valid JSON');
  throwsUsage(() => parsePayload('reverse', ['[1,2]']), 'payload must be a JSON object');
});

test('types without a shorthand take JSON or nothing', () => {
  assert.deepEqual(parsePayload('resize', []), {});
  throwsUsage(() => parsePayload('resize', ['big']), 'no shorthand for task type "resize"');
});
