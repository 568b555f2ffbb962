export { parseTraceparent, formatTraceparent, randomTraceId, randomSpanId } from './traceparent.js';
export type { TraceParent } from './traceparent.js';
export { openSpanExport } from './span-export.js';
export type { SpanRecord, SpanExport } from './span-export.js';
