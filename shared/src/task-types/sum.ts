import { z } from 'zod';
import { defineContract } from './task-contract.js';

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

const SumElement = z.unknown().transform((value, ctx): SumTerm => {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return Number.isInteger(value) ? { kind: 'int', value: BigInt(value) } : { kind: 'float', value };
  }
  if (typeof value === 'string' && INTEGER_STRING.test(value)) return { kind: 'int', value: BigInt(value) };
  ctx.addIssue({ code: 'custom', message: `expected a finite number or an integer string, got ${describe(value)}` });
  return z.NEVER;
});

export const SumPayload = z.strictObject({ numbers: z.array(SumElement).max(MAX_SUM_ELEMENTS) });
export type SumPayload = z.output<typeof SumPayload>;

export const sumContract = defineContract({
  name: 'sum',
  description: 'sums {numbers}: finite numbers or integer strings; exact for integers (BigInt), compensated for floats',
  payload: SumPayload,
  defaults: { concurrency: 4, queueSize: 256 },
});
