import { randomSpanId, type SpanRecord } from '@taskmesh/shared';
import type { TaskEntry } from './task-entry.js';

/**
 * A finished traced task as spans, built from what its trace keeps anyway: the task (submitted to
 * final), its accept (to the durable 202), its wait in the queue (to the first attempt), and each
 * attempt (sent to its end, at which worker, why there, how it went). The worker adds the handler's
 * span under its attempt's.
 */
export function taskSpans(entry: TaskEntry): SpanRecord[] {
  const trace = entry.trace;
  if (trace === null) return [];
  const r = entry.record;
  const { traceId, spanId: taskSpan } = trace;
  const end = r.finishedAt ?? Date.now();
  const accepted = trace.acceptedAt ?? r.createdAt;
  const first = entry.attemptTraces[0]?.sentAt ?? end;
  const spans: SpanRecord[] = [
    {
      name: `taskmesh.task ${r.type}`,
      traceId,
      spanId: taskSpan,
      parentSpanId: trace.parentSpanId,
      startMs: r.createdAt,
      endMs: end,
      attributes: {
        'taskmesh.task.id': r.id,
        'taskmesh.task.type': r.type,
        'taskmesh.task.status': r.status,
        'taskmesh.task.attempts': r.attempts,
      },
      error: r.status === 'succeeded' || r.error === null ? undefined : `${r.error.code}: ${r.error.message}`,
    },
    { name: 'taskmesh.accept', traceId, spanId: randomSpanId(), parentSpanId: taskSpan, startMs: r.createdAt, endMs: accepted },
    {
      name: 'taskmesh.queue',
      traceId,
      spanId: randomSpanId(),
      parentSpanId: taskSpan,
      startMs: accepted,
      endMs: Math.max(accepted, first),
    },
  ];
  for (const a of entry.attemptTraces) {
    if (a.spanId === undefined) continue;
    spans.push({
      name: `taskmesh.attempt ${a.attempt}`,
      traceId,
      spanId: a.spanId,
      parentSpanId: taskSpan,
      startMs: a.sentAt,
      endMs: a.endedAt ?? end,
      attributes: {
        'taskmesh.worker': a.worker,
        'taskmesh.attempt': a.attempt,
        'taskmesh.attempt.reason': a.reason,
        'taskmesh.attempt.outcome': a.outcome ?? 'unknown',
        'taskmesh.attempt.retransmits': a.retransmits,
      },
      error: a.outcome === 'succeeded' ? undefined : (a.outcome ?? 'no outcome'),
    });
  }
  return spans;
}
