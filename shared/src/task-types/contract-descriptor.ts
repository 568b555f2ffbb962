import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { TaskContract } from './task-contract.js';

/** The most a contract's JSON Schema may weigh in a registration. */
export const MAX_CONTRACT_SCHEMA_BYTES = 32 * 1024;

/**
 * A task type's contract as it travels in a worker's registration: the payload schema as JSON
 * Schema (made from the zod schema) and a fingerprint of name and schema, so two workers of one
 * type can be told to agree or not without comparing schemas.
 */
export const ContractDescriptor = z.strictObject({
  description: z.string().max(500),
  payloadSchema: z
    .record(z.string(), z.unknown())
    .refine(
      (schema) => JSON.stringify(schema).length <= MAX_CONTRACT_SCHEMA_BYTES,
      `at most ${MAX_CONTRACT_SCHEMA_BYTES} bytes of JSON Schema`,
    ),
  fingerprint: z.string().regex(/^[0-9a-f]{16,64}$/, 'hex'),
});
export type ContractDescriptor = z.infer<typeof ContractDescriptor>;

/** The descriptor of a contract (its JSON Schema draft 2020-12; what JSON Schema cannot say is left open). */
export function describeContract(contract: TaskContract): ContractDescriptor {
  // The input side: what a client may send (a field with a default may be left out).
  const payloadSchema = z.toJSONSchema(contract.payload, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { description: contract.description.slice(0, 500), payloadSchema, fingerprint: contractFingerprint(contract.name, payloadSchema) };
}

/** SHA-256 of the type's name and payload schema, first 16 bytes in hex. */
export function contractFingerprint(name: string, payloadSchema: unknown): string {
  return createHash('sha256').update(name).update('\n').update(JSON.stringify(payloadSchema)).digest('hex').slice(0, 32);
}
