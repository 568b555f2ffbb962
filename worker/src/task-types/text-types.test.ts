import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskmeshError } from '@taskmesh/shared';
import fc from 'fast-check';
import { graphemeClusters, reverseGraphemes, reverseType } from './reverse.js';
import { upperType } from './upper.js';
import { hashType } from './hash.js';
import { parsePayload } from './parse-payload.js';
import { testContext } from './test-context.js';

test('reverse keeps grapheme clusters whole', () => {
  const cases: Array<[string, string]> = [
    ['abc', 'cba'],
    ['', ''],
    ['e\u0301x', 'xe\u0301'], // e + combining acute stays one letter
    ['a🇩🇪b', 'b🇩🇪a'], // a flag is two regional indicators
    ['👍🏽!', '!👍🏽'], // skin tone modifier
    ['1👨‍👩‍👧2', '2👨‍👩‍👧1'], // ZWJ family
    ['🏳️‍🌈x', 'x🏳️‍🌈'],
    ['naïve ñ', 'ñ evïan'],
  ];
  for (const [input, expected] of cases) assert.equal(reverseGraphemes(input), expected, JSON.stringify(input));
  // A naive code-unit reverse would split the surrogate pairs and modifiers.
  assert.notEqual([...'👍🏽'].reverse().join(''), reverseGraphemes('👍🏽'));
});

test('windowed segmentation finds the same clusters as segmenting the whole text (property)', () => {
  const whole = (text: string): string[] =>
    [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(text)].map((s) => s.segment);
  const pieces = ['a', 'é', 'e\u0301', '\u0301', '👍🏽', '👨‍👩‍👧', '🇩🇪', '🇫', '\u200d', '한', '\u1100\u1161', '\r\n', '\n', '\ud83d', 'ि', 'क्ष'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 60 }), fc.integer({ min: 1, max: 9 }), (parts, window) => {
      const text = parts.join('');
      assert.deepEqual(graphemeClusters(text, window), whole(text));
    }),
  );
  // One cluster longer than the window: e with 600 combining marks.
  const long = `x${'e'}${'\u0301'.repeat(600)}y`;
  assert.deepEqual(graphemeClusters(long, 16), whole(long));
});

test('the ASCII shortcut reverses like the segmenter (property)', () => {
  const bySegmenter = (text: string): string => graphemeClusters(text).reverse().join('');
  // Printable ASCII takes the shortcut; the other strings (controls, CR LF, a non-ASCII letter) must not.
  const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 80 });
  fc.assert(
    fc.property(ascii, fc.constantFrom('', '\r\n', 'é', 'e\u0301'), (text, extra) => {
      assert.equal(reverseGraphemes(text + extra), bySegmenter(text + extra));
    }),
  );
  assert.equal(reverseGraphemes('a\r\nb'), 'b\r\na');
});

test('reverse of a megabyte of text takes linear time', () => {
  const text = 'ab👍🏽e\u0301🇩🇪'.repeat(100_000);
  const started = performance.now();
  const reversed = reverseGraphemes(text);
  assert.equal(reversed.length, text.length);
  assert.ok(reversed.startsWith('🇩🇪e\u0301👍🏽ba'));
  // Unwindowed, this takes many minutes.
  assert.ok(performance.now() - started < 20_000);
});

test('reverse handler validates and answers {text}', async () => {
  assert.deepEqual(await reverseType.handle(parsePayload(reverseType, { text: 'ab🇩🇪' }), testContext()), { text: '🇩🇪ba' });
  assert.throws(
    () => parsePayload(reverseType, { text: 42 }),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'INVALID_PAYLOAD' && /text/.test(err.message),
  );
  assert.throws(() => parsePayload(reverseType, {}), /text/);
  assert.throws(() => parsePayload(reverseType, { text: 'a', extra: 1 }), /extra/);
  assert.throws(() => parsePayload(reverseType, 'abc'), /payload/);
});

test('upper uses the full Unicode mapping', async () => {
  const up = async (text: string): Promise<unknown> => upperType.handle(parsePayload(upperType, { text }), testContext());
  assert.deepEqual(await up('straße'), { text: 'STRASSE' });
  assert.deepEqual(await up('über ñ é'), { text: 'ÜBER Ñ É' });
  assert.deepEqual(await up('ﬁ'), { text: 'FI' });
  assert.deepEqual(await up('👍🏽 abc'), { text: '👍🏽 ABC' });
});

test('hash matches known vectors', async () => {
  const h = async (payload: unknown): Promise<string> =>
    ((await hashType.handle(parsePayload(hashType, payload), testContext())) as { digest: string }).digest;
  assert.equal(await h({ text: 'abc' }), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(await h({ text: '' }), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(await h({ text: 'abc', algorithm: 'sha1' }), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(await h({ text: '', algorithm: 'sha1' }), 'da39a3ee5e6b4b0d3255bfef95601890afd80709');
  assert.equal(await h({ text: 'abc', algorithm: 'md5' }), '900150983cd24fb0d6963f7d28e17f72');
  assert.equal(await h({ text: '', algorithm: 'md5' }), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.equal(
    await h({ text: 'abc', algorithm: 'sha512' }),
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  );
  assert.equal(
    await h({ text: '', algorithm: 'sha512' }),
    'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
  );
  assert.equal(await h({ text: 'abc', encoding: 'base64' }), 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
  assert.equal(await h({ text: 'abc', algorithm: 'md5', encoding: 'base64' }), 'kAFQmDzST7DWlj99KOF/cg==');
  // The text is hashed as UTF-8.
  assert.equal(
    await h({ text: 'ü' }),
    createHash('sha256')
      .update(Buffer.from([0xc3, 0xbc]))
      .digest('hex'),
  );
  const result = await hashType.handle(parsePayload(hashType, { text: 'abc' }), testContext());
  assert.deepEqual(Object.keys(result).sort(), ['algorithm', 'digest', 'encoding']);
});

test('hash rejects unknown algorithms and encodings naming the field', () => {
  assert.throws(() => parsePayload(hashType, { text: 'a', algorithm: 'sha3' }), /algorithm/);
  assert.throws(() => parsePayload(hashType, { text: 'a', encoding: 'latin1' }), /encoding/);
});
