import { reverseContract, type ReversePayload } from '@taskmesh/shared';
import { defineTaskType } from './task-type.js';

export { ReversePayload } from '@taskmesh/shared';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Intl.Segmenter is quadratic in the length of the string it iterates (V8 in Node 20: 64 K
 * characters take seconds), so long text is segmented in windows of this many code units.
 */
const SEGMENT_WINDOW = 256;

/** Texts up to this many UTF-16 units take well under a millisecond (see TaskTypeModule.quick). */
export const QUICK_TEXT_LENGTH = 1024;

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/**
 * The grapheme clusters of `text`, in order, in linear time. Each window starts on a cluster
 * boundary and ends on a whole code point; every boundary found before the window's last cluster
 * is a true one (UAX #29 decides a break from the text before it and the one code point after),
 * so the last cluster is left for the next window, which grows when one cluster fills it.
 */
export function graphemeClusters(text: string, window: number = SEGMENT_WINDOW): string[] {
  const out: string[] = [];
  let start = 0;
  let size = window;
  // Each round either consumes at least one cluster or doubles the window: bounded.
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end += 1;
    const parts: string[] = [];
    for (const { segment } of graphemes.segment(text.slice(start, end))) parts.push(segment);
    if (end === text.length) {
      out.push(...parts);
      break;
    }
    if (parts.length < 2) {
      size *= 2;
      continue;
    }
    parts.pop();
    for (const part of parts) {
      out.push(part);
      start += part.length;
    }
    size = window;
  }
  return out;
}

/**
 * Reverses text by grapheme clusters, so what a reader sees as one character stays whole:
 * "👍🏽" (skin tone), "👨‍👩‍👧" (ZWJ family), "🇩🇪" (flag) and "é" (e + combining accent).
 */
export function reverseGraphemes(text: string): string {
  // Printable ASCII has one grapheme cluster per character (UAX #29's only multi-character ASCII
  // cluster is CR LF): no need for the segmenter, which costs tens of µs per call.
  if (PRINTABLE_ASCII.test(text)) return text.split('').reverse().join('');
  return graphemeClusters(text).reverse().join('');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export const reverseType = defineTaskType({
  ...reverseContract,
  quick: ({ text }: ReversePayload): boolean => text.length <= QUICK_TEXT_LENGTH,
  handle: ({ text }: ReversePayload): { text: string } => ({ text: reverseGraphemes(text) }),
});
