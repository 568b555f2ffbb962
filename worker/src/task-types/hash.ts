import { createHash } from 'node:crypto';
import { hashContract, type HASH_ALGORITHMS, type HASH_ENCODINGS, type HashPayload } from '@taskmesh/shared';
import { QUICK_TEXT_LENGTH } from './reverse.js';
import { defineTaskType } from './task-type.js';

export { HASH_ALGORITHMS, HASH_ENCODINGS, HashPayload } from '@taskmesh/shared';

export interface HashResult {
  algorithm: (typeof HASH_ALGORITHMS)[number];
  encoding: (typeof HASH_ENCODINGS)[number];
  digest: string;
}

/** Digest of the text's UTF-8 bytes. */
export const hashType = defineTaskType({
  ...hashContract,
  quick: ({ text }: HashPayload): boolean => text.length <= QUICK_TEXT_LENGTH,
  handle: ({ text, algorithm, encoding }: HashPayload): HashResult => ({
    algorithm,
    encoding,
    digest: createHash(algorithm).update(text, 'utf8').digest(encoding),
  }),
});
