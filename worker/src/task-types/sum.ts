import { TaskmeshError, sumContract, type SumPayload, type SumTerm } from '@taskmesh/shared';
import { defineTaskType } from './task-type.js';

export { MAX_SUM_ELEMENTS, SumPayload } from '@taskmesh/shared';
/** Sums of up to this many elements take well under a millisecond (see TaskTypeModule.quick). */
const QUICK_SUM_ELEMENTS = 1000;
type Term = SumTerm;

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
  ...sumContract,
  quick: ({ numbers }: SumPayload): boolean => numbers.length <= QUICK_SUM_ELEMENTS,
  handle: ({ numbers }: SumPayload): SumResult => sumTerms(numbers),
});
