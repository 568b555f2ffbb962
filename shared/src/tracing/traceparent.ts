import { randomBytes } from 'node:crypto';

/**
 * W3C Trace Context, the part taskmesh carries: a `traceparent` header parsed and written, and
 * fresh ids. A task submitted with a sampled traceparent is traced (its spans exported over OTLP
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set); without one nothing is recorded for it.
 */
export interface TraceParent {
  /** 32 lower-case hex digits. */
  traceId: string;
  /** The caller's span: 16 lower-case hex digits. */
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A valid version-00 traceparent, or null (an invalid one is ignored, as the spec says). */
export function parseTraceparent(header: unknown): TraceParent | null {
  if (typeof header !== 'string' || header.length !== 55) return null;
  const m = TRACEPARENT.exec(header);
  if (m === null || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return { traceId: m[1]!, spanId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled = true): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export const randomTraceId = (): string => randomBytes(16).toString('hex');
export const randomSpanId = (): string => randomBytes(8).toString('hex');

/** The TaskMessage field's shape (validated at the worker like every field). */
export const TRACEPARENT_PATTERN = TRACEPARENT;
