import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TaskmeshError } from '@taskmesh/shared';
import { neumaierSum, sumType, type SumResult } from './sum.js';
import { parsePayload } from './parse-payload.js';
import { testContext } from './test-context.js';

const sum = async (numbers: unknown): Promise<SumResult> => sumType.handle(parsePayload(sumType, { numbers }), testContext());

const rejects = (numbers: unknown, pattern: RegExp): void => {
  assert.throws(
    () => parsePayload(sumType, { numbers }),
    (err: unknown) => err instanceof TaskmeshError && err.code === 'INVALID_PAYLOAD' && pattern.test(err.message),
    `${String(numbers)} should be rejected matching ${pattern}`,
  );
};

test('sum of integers is exact beyond 2^53', async () => {
  assert.deepEqual(await sum(['9007199254740993', '1']), { sum: '9007199254740994', exact: true, count: 2 });
  assert.deepEqual(await sum([1, 2, 3]), { sum: 6, exact: true, count: 3 });
  assert.deepEqual(await sum([]), { sum: 0, exact: true, count: 0 });
  assert.deepEqual(await sum([Number.MAX_SAFE_INTEGER, 1]), { sum: '9007199254740992', exact: true, count: 2 });
  assert.deepEqual(await sum(['-9007199254740993', '-1']), { sum: '-9007199254740994', exact: true, count: 2 });
  assert.deepEqual(await sum(['123456789012345678901234567890', '-123456789012345678901234567889']), { sum: 1, exact: true, count: 2 });
  // Back inside the safe range the answer is a number again.
  assert.deepEqual(await sum(['9007199254740993', '-10']), { sum: 9007199254740983, exact: true, count: 2 });
});

test('sum of floats is compensated', async () => {
  assert.deepEqual(await sum([1e16, 1, -1e16]), { sum: 1, exact: true, count: 3 });
  // Plain left-to-right addition gives 2 here; Neumaier keeps the 1.5.
  assert.equal(1e16 + 1.5 - 1e16, 2);
  assert.deepEqual(await sum([1e16, 1.5, -1e16]), { sum: 1.5, exact: false, count: 3 });
  assert.equal((await sum(Array.from({ length: 10 }, () => 0.1))).sum, 1);
  assert.equal(neumaierSum([1, 1e100, 1, -1e100]), 2);
  // Integers joined to floats keep their low bits.
  assert.deepEqual(await sum(['9007199254740993', 0.5, '-9007199254740992']), { sum: 1.5, exact: false, count: 3 });
});

test('sum rejects anything that is not a finite number or integer string, naming the index', () => {
  rejects([1, 'abc', 3], /numbers\[1\].*"abc"/);
  rejects([1, 2, null], /numbers\[2\].*null/);
  rejects([NaN], /numbers\[0\].*NaN/);
  rejects([1, Infinity], /numbers\[1\].*Infinity/);
  rejects([-Infinity], /numbers\[0\]/);
  rejects([[1, 2]], /numbers\[0\].*array/);
  rejects([{ n: 1 }], /numbers\[0\].*object/);
  rejects(['1.5'], /numbers\[0\]/);
  rejects(['1e3'], /numbers\[0\]/);
  rejects([true], /numbers\[0\]/);
  rejects('1,2', /numbers/);
  assert.throws(() => parsePayload(sumType, {}), /numbers/);
});

test('sum overflowing a double is an error, not Infinity', async () => {
  await assert.rejects(
    sum([Number.MAX_VALUE, Number.MAX_VALUE, 0.5]),
    (err: unknown) => err instanceof TaskmeshError && /range of a double/.test(err.message),
  );
  // Integers only: exact however large.
  const big = await sum([Number.MAX_VALUE, Number.MAX_VALUE]);
  assert.equal(big.exact, true);
  assert.equal(typeof big.sum, 'string');
});

test('integer sums equal BigInt arithmetic (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), { maxLength: 50 }), async (values) => {
      const expected = values.reduce((a, b) => a + b, 0n);
      const result = await sum(values.map(String));
      assert.equal(result.exact, true);
      assert.equal(BigInt(result.sum), expected);
    }),
  );
});

/** A double as an exact integer count of 2^-1074, the smallest subnormal. */
function scaled(x: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const magnitude = exponent === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exponent - 1);
  return bits >> 63n === 1n ? -magnitude : magnitude;
}

test('compensated float sums stay within the Neumaier error bound of the exact sum (property)', () => {
  const abs = (v: bigint): bigint => (v < 0n ? -v : v);
  // Large values that cancel out around small ones: where plain addition loses the small ones.
  const big = fc.array(fc.double({ min: -1e15, max: 1e15, noNaN: true }), { minLength: 1, maxLength: 20 });
  const small = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(fc.tuple(big, small), ([bigs, smalls]) => {
      const values = [...bigs, ...smalls, ...bigs.map((x) => -x)];
      const exact = values.reduce((a, x) => a + scaled(x), 0n);
      const sumAbs = values.reduce((a, x) => a + abs(scaled(x)), 0n);
      const error = abs(scaled(neumaierSum(values)) - exact);
      // |error| <= 2u|s| + O(n^2 u^2) sum|x|, u = 2^-53.
      const n = BigInt(values.length);
      const bound = (abs(exact) >> 51n) + ((sumAbs * 4n * n * n) >> 104n) + 1n;
      assert.ok(error <= bound, `error ${error} > bound ${bound} for ${JSON.stringify(values)}`);
    }),
  );
});
