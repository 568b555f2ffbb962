export { parseTraceparent, formatTraceparent, randomTraceId, randomSpanId } from './traceparent.js';
export type { TraceParent } from './traceparent.js';
export { openSpanExport } from './span-export.js';
export type { SpanRecord, SpanExport } from './span-export.js';
export { TRACE_SAMPLERS, traceDecision } from './sampler.js';
export type { TraceSamplerName, TraceSampling, TraceStart } from './sampler.js';
