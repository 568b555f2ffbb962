import { parseTraceparent, randomTraceId } from './traceparent.js';

/** Where a traced task's spans hang: its trace, and the caller's span ('' for a trace the task starts). */
export interface TraceStart {
  traceId: string;
  parentSpanId: string;
}

/** OTEL_TRACES_SAMPLER values taskmesh follows (the SDKs' names; the remote samplers are not offered). */
export const TRACE_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TraceSamplerName = (typeof TRACE_SAMPLERS)[number];

export interface TraceSampling {
  /** OTEL_TRACES_SAMPLER; unset, only the tasks a caller sampled are traced. */
  sampler?: TraceSamplerName | undefined;
  /** OTEL_TRACES_SAMPLER_ARG: the share of traces kept by the traceidratio samplers (0 to 1, default 1). */
  ratio?: number | undefined;
  /** Whether spans are exported: without an exporter, no trace is started for nothing. */
  exporting: boolean;
}

/**
 * Whether a task submitted with this traceparent header (or none) is traced, and in which trace.
 * A caller's valid traceparent is followed by the parent-based samplers and unset (traced when the
 * caller sampled it), and decided by its trace id under always_* and traceidratio; a task without
 * one starts a trace of its own as the sampler says, only while spans are exported. Unset stays
 * with callers' decisions rather than the SDKs' parentbased_always_on default, which would trace
 * every task of a busy dispatcher.
 */
export function traceDecision({ sampler, ratio = 1, exporting }: TraceSampling): (traceparent: string | undefined) => TraceStart | null {
  // Without an exporter a caller's decision is still carried on (to the worker, on the task page).
  const parentBased = sampler === undefined || sampler.startsWith('parentbased_') || !exporting;
  const root = sampler === undefined || !exporting ? 0 : sampler.endsWith('always_on') ? 1 : sampler.endsWith('always_off') ? 0 : ratio;
  const keeps = (traceId: string): boolean => root >= 1 || (root > 0 && ratioOf(traceId) < root);
  return (traceparent) => {
    const parent = parseTraceparent(traceparent);
    if (parent !== null) {
      const kept = parentBased ? parent.sampled : keeps(parent.traceId);
      return kept ? { traceId: parent.traceId, parentSpanId: parent.spanId } : null;
    }
    if (root <= 0) return null;
    const traceId = randomTraceId();
    return keeps(traceId) ? { traceId, parentSpanId: '' } : null;
  };
}

/** A trace id's place in [0, 1), from its last 8 hex digits: the same id is kept or dropped everywhere. */
const ratioOf = (traceId: string): number => parseInt(traceId.slice(-8), 16) / 0x1_0000_0000;
