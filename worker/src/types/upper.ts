import { z } from 'zod';
import { MAX_TEXT_LENGTH, QUICK_TEXT_LENGTH } from './reverse.js';
import { defineTaskType } from './task-type.js';

export const UpperPayload = z.strictObject({ text: z.string().max(MAX_TEXT_LENGTH) });
export type UpperPayload = z.infer<typeof UpperPayload>;

/** Unicode full case mapping, locale independent: "ß" becomes "SS", "ǆ" becomes "Ǆ". */
export const upperType = defineTaskType({
  name: 'upper',
  description: 'upper-cases {text} with the Unicode case mapping (ß → SS)',
  payload: UpperPayload,
  defaults: { concurrency: 4, queueSize: 256 },
  quick: ({ text }: UpperPayload): boolean => text.length <= QUICK_TEXT_LENGTH,
  handle: ({ text }: UpperPayload): { text: string } => ({ text: text.toUpperCase() }),
});
