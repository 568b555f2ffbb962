import { z } from 'zod';
import { TaskmeshError } from '@taskmesh/shared';
import { defineTaskType } from './task-type.js';

/** Bounds the work and the message: a million elements, integers of up to 1000 digits. */
export const MAX_SUM_ELEMENTS = 1_000_000;
/** Sums of up to this many elements take well under a millisecond (see TaskTypeModule.quick). */
export const QUICK_SUM_ELEMENTS = 1000;
const INTEGER_STRING = /^[+-]?\d{1,1000}$/;

/** One element after parsing: an exact integer, or a finite non-integer double. */
type Term = { kind: 'int'; value: bigint } | { kind: 'float'; value: number };

/** How a rejected element is shown in the error message. */
function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN, Infinity: JSON.stringify would say null
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const SumElement = z.unknown().transform((value, ctx): Term => {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Number.isInteger(value) ? { kind: 'int', value: BigInt(value) } : { kind: 'float', value };
  }
  if (typeof value === 'string' && INTEGER_STRING.test(value)) return { kind: 'int', value: BigInt(value) };
  ctx.addIssue({ code: 'custom', message: `expected a finite number or an integer string, got ${describe(value)}` });
  return z.NEVER;
});

export const SumPayload = z.strictObject({ numbers: z.array(SumElement).max(MAX_SUM_ELEMENTS) });
export type SumPayload = z.output<typeof SumPayload>;

/**
 * `sum` is a number when it is exactly representable (integers up to Number.MAX_SAFE_INTEGER, or
 * any float result), else a decimal string of the exact integer. `exact` is true when every
 * element was an integer, so no rounding happened at all.
 */
export interface SumResult {
  sum: number | string;
  exact: boolean;
  count: number;
}

/** Neumaier's compensated summation: keeps the low-order bits that plain addition drops. */
export function neumaierSum(values: Iterable<number>): number {
  let sum = 0;
  let compensation = 0;
  for (const x of values) {
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + compensation;
}

/** Integers are summed exactly as BigInt; floats with compensation, joined with the integer part at the end. */
export function sumTerms(terms: readonly Term[]): SumResult {
  let integer = 0n;
  const floats: number[] = [];
  for (const term of terms) {
    if (term.kind === 'int') integer += term.value;
    else floats.push(term.value);
  }
  if (floats.length === 0) {
    const safe = integer <= BigInt(Number.MAX_SAFE_INTEGER) && integer >= BigInt(Number.MIN_SAFE_INTEGER);
    return { sum: safe ? Number(integer) : integer.toString(), exact: true, count: terms.length };
  }
  // Split the exact integer into a double and its rounding error so neither is lost.
  const hi = Number(integer);
  const lo = Number.isFinite(hi) ? Number(integer - BigInt(hi)) : 0;
  const sum = neumaierSum([hi, lo, ...floats]);
  if (!Number.isFinite(sum)) {
    throw new TaskmeshError('INVALID_PAYLOAD', 'the sum is beyond the range of a double; give integers only for an exact result');
  }
  return { sum, exact: false, count: terms.length };
}

export const sumType = defineTaskType({
  name: 'sum',
  description: 'sums {numbers}: finite numbers or integer strings; exact for integers (BigInt), compensated for floats',
  payload: SumPayload,
  defaults: { concurrency: 4, queueSize: 256 },
  quick: ({ numbers }: SumPayload): boolean => numbers.length <= QUICK_SUM_ELEMENTS,
  handle: ({ numbers }: SumPayload): SumResult => sumTerms(numbers),
});
