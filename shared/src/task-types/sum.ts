import { z } from 'zod';
import { MAX_PAYLOAD_ISSUES, defineContract } from './task-contract.js';

/** Bounds the work and the message: a million elements, integers of up to 1000 digits. */
export const MAX_SUM_ELEMENTS = 1_000_000;
const INTEGER_STRING = /^[+-]?\d{1,1000}$/;

/** One element after parsing: an exact integer, or a finite non-integer double. */
export type SumTerm = { kind: 'int'; value: bigint } | { kind: 'float'; value: number };

/** How a rejected element is shown in the error message. */
function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN, Infinity: JSON.stringify would say null
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** What one element is as a term, or undefined when it is not a number nor an integer string. */
function termOf(value: unknown): SumTerm | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Number.isInteger(value) ? { kind: 'int', value: BigInt(value) } : { kind: 'float', value };
  }
  if (typeof value === 'string' && INTEGER_STRING.test(value)) return { kind: 'int', value: BigInt(value) };
  return undefined;
}

/**
 * The numbers, checked in one loop that stops at the first few bad elements: an array of a
 * million bad elements costs one issue each in a per-element schema (seconds of CPU and hundreds
 * of megabytes for a request that compresses to a few bytes), and the answer names only the first
 * few anyway.
 */
const SumNumbers = z
  .array(z.unknown())
  .max(MAX_SUM_ELEMENTS)
  .transform((values, ctx): SumTerm[] => {
    const terms: SumTerm[] = new Array<SumTerm>(values.length);
    let bad = 0;
    for (let i = 0; i < values.length; i++) {
      const term = termOf(values[i]);
      if (term !== undefined) {
        terms[i] = term;
        continue;
      }
      ctx.addIssue({ code: 'custom', path: [i], message: `expected a finite number or an integer string, got ${describe(values[i])}` });
      if (++bad >= MAX_PAYLOAD_ISSUES) break;
    }
    return bad > 0 ? z.NEVER : terms;
  });

export const SumPayload = z.strictObject({ numbers: SumNumbers });
export type SumPayload = z.output<typeof SumPayload>;

export const sumContract = defineContract({
  name: 'sum',
  description: 'sums {numbers}: finite numbers or integer strings; exact for integers (BigInt), compensated for floats',
  payload: SumPayload,
  defaults: { concurrency: 4, queueSize: 256 },
});
