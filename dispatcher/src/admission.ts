import { createHash } from 'node:crypto';
import { MAX_MESSAGE_BYTES, TaskmeshError, findContract, validatePayload } from '@taskmesh/shared';

/** Bytes a task message adds around its payload (ids, type, attempt, framing), with room to spare. */
const TASK_MESSAGE_OVERHEAD_BYTES = 1024;
/** The largest payload the transport can carry to a worker in one task message. */
const TRANSPORT_PAYLOAD_LIMIT = MAX_MESSAGE_BYTES - TASK_MESSAGE_OVERHEAD_BYTES;

export interface AdmissionLimits {
  /** TASKMESH_MAX_PAYLOAD_BYTES: the largest payload, as JSON. */
  maxPayloadBytes: number;
  /** TASKMESH_MAX_PAYLOAD_DEPTH: the deepest nesting of arrays and objects. */
  maxPayloadDepth: number;
}

/** What admission learned of a task's payload. */
export interface Admitted {
  /** Its JSON in UTF-8 bytes: what it weighs in memory bounds. */
  payloadBytes: number;
  /** Its JSON (rendered to measure it, and kept: see TaskEntry.payloadText). */
  payloadText: string;
}

/**
 * How deep a JSON value nests, stopping as soon as it passes `limit`: the recursion never goes
 * deeper than limit + 1, so a payload nested 10,000 deep is refused after `limit` steps down and
 * never reaches JSON.stringify, whose recursion it would overflow.
 */
export function jsonDepth(value: unknown, limit: number): number {
  return depthOf(value, 0, limit);
}

function depthOf(value: unknown, above: number, limit: number): number {
  if (typeof value !== 'object' || value === null) return above;
  const depth = above + 1;
  if (depth > limit) return depth;
  let deepest = depth;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depthOf(item, depth, limit));
    if (deepest > limit) break;
  }
  return deepest;
}

/**
 * Checks one task's payload before anything of it is stored: nesting depth, size (the configured
 * limit and what the transport can carry), then the type's own schema when taskmesh knows it.
 * Throws PAYLOAD_TOO_LARGE (413) naming the limit, or INVALID_PAYLOAD (400) naming the field.
 */
export function admitPayload(type: string, payload: unknown, limits: AdmissionLimits, where = ''): Admitted {
  const depth = jsonDepth(payload, limits.maxPayloadDepth);
  if (depth > limits.maxPayloadDepth) {
    throw new TaskmeshError(
      'PAYLOAD_TOO_LARGE',
      `${where}payload nests deeper than ${limits.maxPayloadDepth} levels (TASKMESH_MAX_PAYLOAD_DEPTH)`,
      {
        details: { limit: 'TASKMESH_MAX_PAYLOAD_DEPTH', max: limits.maxPayloadDepth },
      },
    );
  }
  const payloadText = JSON.stringify(payload) ?? 'null';
  const payloadBytes = Buffer.byteLength(payloadText, 'utf8');
  if (payloadBytes > limits.maxPayloadBytes) {
    throw new TaskmeshError(
      'PAYLOAD_TOO_LARGE',
      `${where}payload of ${payloadBytes} bytes is over TASKMESH_MAX_PAYLOAD_BYTES=${limits.maxPayloadBytes}`,
      {
        details: { limit: 'TASKMESH_MAX_PAYLOAD_BYTES', max: limits.maxPayloadBytes, bytes: payloadBytes },
      },
    );
  }
  if (payloadBytes > TRANSPORT_PAYLOAD_LIMIT) {
    throw new TaskmeshError(
      'PAYLOAD_TOO_LARGE',
      `${where}payload of ${payloadBytes} bytes cannot reach a worker: the transport carries at most ${TRANSPORT_PAYLOAD_LIMIT} bytes of payload per task`,
      {
        details: { limit: 'transport', max: TRANSPORT_PAYLOAD_LIMIT, bytes: payloadBytes },
      },
    );
  }
  const contract = findContract(type);
  if (contract !== undefined) validatePayload(contract, payload, where === '' ? '' : `${where}payload.`);
  return { payloadBytes, payloadText };
}

/** Keys in a stable order, so `{a, b}` and `{b, a}` are the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What an idempotency key stands for: the type and payload of the request that first used it. */
export function requestFingerprint(type: string, payload: unknown): string {
  return createHash('sha256').update(type).update('\n').update(canonical(payload)).digest('base64url');
}

/** A result nested deeper than this is not kept (its record could not be served). */
export const MAX_RESULT_DEPTH = 256;

/** A result's JSON and its bytes, or why it cannot be kept (nested too deep, not serialisable). */
export function measureResult(result: unknown): { bytes: number; text: string } | string {
  if (jsonDepth(result, MAX_RESULT_DEPTH) > MAX_RESULT_DEPTH) return `it nests deeper than ${MAX_RESULT_DEPTH} levels`;
  try {
    const text = JSON.stringify(result) ?? 'null';
    return { bytes: Buffer.byteLength(text, 'utf8'), text };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
