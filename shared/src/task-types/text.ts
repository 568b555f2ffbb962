import { z } from 'zod';
import { defineContract } from './task-contract.js';

/** Longest text accepted, in UTF-16 code units (the payload byte limit bounds it too). */
export const MAX_TEXT_LENGTH = 1_000_000;

export const ReversePayload = z.strictObject({ text: z.string().max(MAX_TEXT_LENGTH) });
export type ReversePayload = z.infer<typeof ReversePayload>;

export const UpperPayload = z.strictObject({ text: z.string().max(MAX_TEXT_LENGTH) });
export type UpperPayload = z.infer<typeof UpperPayload>;

export const HASH_ALGORITHMS = ['sha256', 'sha1', 'sha512', 'md5'] as const;
export const HASH_ENCODINGS = ['hex', 'base64'] as const;

export const HashPayload = z.strictObject({
  text: z.string().max(MAX_TEXT_LENGTH),
  algorithm: z.enum(HASH_ALGORITHMS).default('sha256'),
  encoding: z.enum(HASH_ENCODINGS).default('hex'),
});
export type HashPayload = z.output<typeof HashPayload>;

export const reverseContract = defineContract({
  name: 'reverse',
  description: 'reverses {text} by grapheme clusters (emoji and combining marks stay whole)',
  payload: ReversePayload,
  defaults: { concurrency: 4, queueSize: 256 },
});

export const upperContract = defineContract({
  name: 'upper',
  description: 'upper-cases {text} with the Unicode case mapping (ß → SS)',
  payload: UpperPayload,
  defaults: { concurrency: 4, queueSize: 256 },
});

export const hashContract = defineContract({
  name: 'hash',
  description: 'digest of {text} as UTF-8: {algorithm?: sha256|sha1|sha512|md5, encoding?: hex|base64}',
  payload: HashPayload,
  defaults: { concurrency: 4, queueSize: 256 },
});
