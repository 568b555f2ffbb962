import { z } from 'zod';
import { defineTaskType } from './task-type.js';

/** Longest text accepted, in UTF-16 code units (the message limit bounds it anyway). */
export const MAX_TEXT_LENGTH = 1_000_000;

export const ReversePayload = z.strictObject({ text: z.string().max(MAX_TEXT_LENGTH) });
export type ReversePayload = z.infer<typeof ReversePayload>;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Reverses text by grapheme clusters, so what a reader sees as one character stays whole:
 * "👍🏽" (skin tone), "👨‍👩‍👧" (ZWJ family), "🇩🇪" (flag) and "é" (e + combining accent).
 */
export function reverseGraphemes(text: string): string {
  const parts: string[] = [];
  for (const { segment } of graphemes.segment(text)) parts.push(segment);
  return parts.reverse().join('');
}

export const reverseType = defineTaskType({
  name: 'reverse',
  description: 'reverses {text} by grapheme clusters (emoji and combining marks stay whole)',
  payload: ReversePayload,
  defaults: { concurrency: 4, queueSize: 64 },
  handle: ({ text }: ReversePayload): { text: string } => ({ text: reverseGraphemes(text) }),
});
