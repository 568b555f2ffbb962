import { TaskmeshError, isErrorCode } from '../errors.js';
import { SIGNATURE_HEADER, signRequest } from '../request-signing.js';
import { ErrorResponse } from '../tasks-api.js';

/** What a taskmesh service answered: its status, and its body as JSON (the text when it is not JSON, undefined when empty). */
export interface ServiceAnswer {
  status: number;
  body: unknown;
}

export interface ServiceCall {
  method: string;
  /** The whole URL. */
  url: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Signs the request (SIGNATURE_HEADER) with this key, from deriveKey for the callee's purpose. */
  key?: Buffer | undefined;
  /** More headers, e.g. an authorization. */
  headers?: Record<string, string>;
  /** For the answer, its body included. */
  timeoutMs: number;
}

/**
 * One request from a taskmesh service to another: the nameservice's clients, the dispatcher's call
 * to monitoring's chaos hands, monitoring's reads of the dispatcher. Any status is an answer;
 * no answer is UNAVAILABLE, naming `service`, where it was sought and why (ECONNREFUSED, a timeout).
 */
export async function callService(service: string, call: ServiceCall): Promise<ServiceAnswer> {
  const text = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  if (text !== undefined) headers['content-type'] = 'application/json';
  if (call.key !== undefined) {
    const target = new URL(call.url);
    headers[SIGNATURE_HEADER] = signRequest(call.key, {
      method: call.method,
      path: `${target.pathname}${target.search}`,
      body: text ?? '',
    });
  }
  try {
    const res = await fetch(call.url, { method: call.method, headers, body: text, signal: AbortSignal.timeout(call.timeoutMs) });
    const answer = await res.text();
    return { status: res.status, body: answer === '' ? undefined : jsonOrText(answer) };
  } catch (err) {
    const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${call.timeoutMs} ms` : describeFetchError(err);
    throw new TaskmeshError('UNAVAILABLE', `${service} at ${new URL(call.url).origin} unreachable: ${reason}`, { cause: err });
  }
}

/**
 * The error an answer that is not the one hoped for means: the service's own, code and message,
 * when its body is a taskmesh error; else UNAVAILABLE (a proxy, or some other server on that port).
 */
export function answerError(service: string, operation: string, answer: ServiceAnswer, baseUrl: string): TaskmeshError {
  const parsed = ErrorResponse.safeParse(answer.body);
  if (parsed.success && isErrorCode(parsed.data.error.code)) return TaskmeshError.fromBody(parsed.data.error);
  return new TaskmeshError('UNAVAILABLE', `${service} ${operation}: unexpected HTTP ${answer.status} from ${baseUrl}`, {
    details: { status: answer.status },
  });
}

/** A body as JSON, or its text when it is not JSON. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** fetch hides the socket error in `cause`; that is the useful part (ECONNREFUSED, ENOTFOUND). */
export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  return err.message;
}
