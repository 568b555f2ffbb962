import { TaskmeshError } from '../errors.js';
import { PROTOCOL_VERSION, parseMessage, type Message, type Outgoing } from '../protocol.js';

/**
 * Messages as they travel inside a data frame: a UTF-8 JSON array, each element one protocol
 * message with its version. Encoding happens once per message at send time (so the size limit
 * is checked where the caller can see the error); decoding validates every element.
 */

/** One message's JSON, version added. Throws INVALID_PAYLOAD when it cannot be serialised. */
export function encodeMessage(message: Outgoing): string {
  let json: string | undefined;
  try {
    json = JSON.stringify({ v: PROTOCOL_VERSION, ...message });
  } catch (err) {
    throw new TaskmeshError('INVALID_PAYLOAD', `a ${message.kind} message cannot be serialised as JSON: ${(err as Error).message}`, { cause: err });
  }
  if (json === undefined) throw new TaskmeshError('INVALID_PAYLOAD', `a ${message.kind} message cannot be serialised as JSON`);
  return json;
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
    const result = parseMessage(element);
    if (result.ok) messages.push(result.message);
    else failures.push({ reason: result.reason, detail: result.detail });
  }
  return { ok: true, messages, failures };
}
