import type { Logger } from '../logger.js';

/**
 * Spans for the user's own tracing stack, exported with the OpenTelemetry SDK over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads the OTEL_* variables: endpoint, headers,
 * OTEL_BSP_SCHEDULE_DELAY…). Unset, the SDK is never loaded. Spans are handed over whole, with the
 * ids taskmesh chose and their own start and end times, once the step they describe has ended: the
 * hot path only keeps timestamps it keeps anyway.
 */
export interface SpanRecord {
  name: string;
  traceId: string;
  spanId: string;
  /** '' for a root span (a task that started its own trace). */
  parentSpanId: string;
  startMs: number;
  endMs: number;
  attributes?: Record<string, string | number | boolean>;
  /** Set for a step that failed: the span's status is ERROR with this message. */
  error?: string | undefined;
}

export interface SpanExport {
  export(spans: readonly SpanRecord[]): void;
  /** Sends what is batched and stops. */
  shutdown(): Promise<void>;
}

/** The exporter when OTEL_EXPORTER_OTLP_ENDPOINT (or its traces variant) is set; null otherwise. */
export async function openSpanExport(service: string, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<SpanExport | null> {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return null;
  const [
    { ROOT_CONTEXT, trace, SpanStatusCode, TraceFlags },
    { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor },
    { resourceFromAttributes },
    { OTLPTraceExporter },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  // The SDK asks for ids when a span starts: it is given the ones taskmesh chose.
  let nextSpanId = '';
  let nextTraceId = '';
  const idGenerator = { generateTraceId: () => nextTraceId, generateSpanId: () => nextSpanId };
  const provider = new BasicTracerProvider({
    // Which tasks are traced was decided when each was submitted (traceDecision): every span goes.
    sampler: new AlwaysOnSampler(),
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || `taskmesh-${service}` }),
    idGenerator,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const tracer = provider.getTracer('taskmesh');
  logger.info('exporting task spans over OTLP', { event: 'tracing', endpoint });
  return {
    export(spans) {
      for (const s of spans) {
        // A task that started its own trace has a root span: no parent.
        const parent =
          s.parentSpanId === ''
            ? ROOT_CONTEXT
            : trace.setSpanContext(ROOT_CONTEXT, {
                traceId: s.traceId,
                spanId: s.parentSpanId,
                traceFlags: TraceFlags.SAMPLED,
                isRemote: true,
              });
        nextSpanId = s.spanId;
        nextTraceId = s.traceId;
        const span = tracer.startSpan(s.name, { startTime: s.startMs, ...(s.attributes ? { attributes: s.attributes } : {}) }, parent);
        if (s.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: s.error });
        span.end(Math.max(s.endMs, s.startMs));
      }
    },
    shutdown: () => provider.shutdown(),
  };
}
