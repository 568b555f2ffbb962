import { TaskmeshError } from '../errors.js';
import { JsonText, jsonWith } from '../json-text.js';
import type { z } from 'zod';
import {
  AckMessage,
  CancelAckMessage,
  CancelMessage,
  PROTOCOL_VERSION,
  ProgressMessage,
  ResultAckMessage,
  ResultMessage,
  TaskMessage,
  parseMessage,
  type Message,
  type MessageKind,
  type Outgoing,
} from '../protocol.js';

const SCHEMAS = new Map<MessageKind, z.ZodType>([
  ['task', TaskMessage],
  ['ack', AckMessage],
  ['progress', ProgressMessage],
  ['result', ResultMessage],
  ['result-ack', ResultAckMessage],
  ['cancel', CancelMessage],
  ['cancel-ack', CancelAckMessage],
]);

/**
 * Messages as they travel inside a data frame: a UTF-8 JSON array, each element one protocol
 * message with its version. Encoding happens once per message at send time (so the size limit
 * is checked where the caller can see the error); decoding validates every element.
 */

/**
 * One message's JSON, version added; a task whose payload is a JsonText has that text spliced in.
 * Throws INVALID_PAYLOAD when it cannot be serialised.
 */
export function encodeMessage(message: Outgoing): string {
  let json: string | undefined;
  try {
    if (message.kind === 'task' && message.payload instanceof JsonText)
      json = jsonWith({ ...message, payload: undefined }, [['payload', message.payload.text]]).join('');
    else json = JSON.stringify(message);
  } catch (err) {
    throw new TaskmeshError('INVALID_PAYLOAD', `a ${message.kind} message cannot be serialised as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (json === undefined) throw new TaskmeshError('INVALID_PAYLOAD', `a ${message.kind} message cannot be serialised as JSON`);
  // Splicing the version in saves copying every message into a new object first.
  return `{"v":${PROTOCOL_VERSION},${json.slice(1)}`;
}

/** Joins encoded messages into one payload. */
export const packMessages = (encoded: readonly string[]): string => `[${encoded.join(',')}]`;

export type DecodedPayload =
  | { ok: false; reason: 'malformed'; detail: string }
  | { ok: true; messages: Message[]; failures: { reason: 'version' | 'schema'; detail: string }[] };

/**
 * Decodes a reassembled payload. Never throws. Each element is validated with the protocol schema
 * (version first); valid messages are kept even when a sibling fails, and each failure is reported.
 */
export function decodePayload(payload: Buffer): DecodedPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed', detail: 'payload is not JSON' };
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    return { ok: false, reason: 'malformed', detail: 'payload is not a non-empty array of messages' };
  }
  const messages: Message[] = [];
  const failures: { reason: 'version' | 'schema'; detail: string }[] = [];
  for (const element of parsed as unknown[]) {
    // Dispatch on kind to that kind's schema (cheaper than the union); anything odd goes
    // through parseMessage for its precise reason (version first).
    const schema =
      typeof element === 'object' && element !== null && (element as { v?: unknown }).v === PROTOCOL_VERSION
        ? SCHEMAS.get((element as { kind?: unknown }).kind as MessageKind)
        : undefined;
    const fast = schema?.safeParse(element);
    if (fast?.success === true) {
      messages.push(fast.data as Message);
      continue;
    }
    const result = parseMessage(element);
    if (result.ok) messages.push(result.message);
    else failures.push({ reason: result.reason, detail: result.detail });
  }
  return { ok: true, messages, failures };
}
