import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_TEXT_LENGTH, QUICK_TEXT_LENGTH } from './reverse.js';
import { defineTaskType } from './task-type.js';

export const HASH_ALGORITHMS = ['sha256', 'sha1', 'sha512', 'md5'] as const;
export const HASH_ENCODINGS = ['hex', 'base64'] as const;

export const HashPayload = z.strictObject({
  text: z.string().max(MAX_TEXT_LENGTH),
  algorithm: z.enum(HASH_ALGORITHMS).default('sha256'),
  encoding: z.enum(HASH_ENCODINGS).default('hex'),
});
export type HashPayload = z.output<typeof HashPayload>;

export interface HashResult {
  algorithm: (typeof HASH_ALGORITHMS)[number];
  encoding: (typeof HASH_ENCODINGS)[number];
  digest: string;
}

/** Digest of the text's UTF-8 bytes. */
export const hashType = defineTaskType({
  name: 'hash',
  description: 'digest of {text} as UTF-8: {algorithm?: sha256|sha1|sha512|md5, encoding?: hex|base64}',
  payload: HashPayload,
  defaults: { concurrency: 4, queueSize: 256 },
  quick: ({ text }: HashPayload): boolean => text.length <= QUICK_TEXT_LENGTH,
  handle: ({ text, algorithm, encoding }: HashPayload): HashResult => ({
    algorithm,
    encoding,
    digest: createHash(algorithm).update(text, 'utf8').digest(encoding),
  }),
});
