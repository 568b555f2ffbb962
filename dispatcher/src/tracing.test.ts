import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually } from './test-support.js';

/**
 * Traces for the user's own stack: a task submitted with a W3C traceparent has its spans (task,
 * accept, queue, attempt at the dispatcher; handler at the worker) exported over OTLP/HTTP to the
 * endpoint in OTEL_EXPORTER_OTLP_ENDPOINT, each under the right parent. The receiver is this test's.
 */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

let receiver: Server;
const spans: OtlpSpan[] = [];
let suite: LocalSuite;
let untraced: LocalSuite;
let sampling: LocalSuite;

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
        };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  [suite, untraced, sampling] = await Promise.all([
    startLocalSuite({ workers: ['reverse'], env: otlp }),
    startLocalSuite({ workers: ['reverse'] }),
    startLocalSuite({ workers: ['reverse'], env: { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_always_on' } }),
  ]);
});
after(async () => {
  await Promise.all([suite?.stop(), untraced?.stop(), sampling?.stop()]);
  receiver?.close();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

test("a traced task's spans reach the OTLP endpoint: task under the caller's span, accept, queue and attempt under the task, the handler under the attempt", async () => {
  const res = await api(suite.dispatcherUrl!, '/v1/tasks?wait=10000', {
    body: { type: 'reverse', payload: { text: 'traced' } },
    headers: { traceparent: `00-${TRACE}-${CALLER_SPAN}-01` },
  });
  assert.equal(res.body.status, 'succeeded');
  const mine = await eventually('the five spans of the task', () => {
    const found = spans.filter((s) => s.traceId === TRACE);
    return found.length >= 5 ? found : undefined;
  });
  const byName = (prefix: string): OtlpSpan => {
    const span = mine.find((s) => s.name.startsWith(prefix));
    assert.ok(span, `a ${prefix} span among ${mine.map((s) => s.name).join(', ')}`);
    return span;
  };
  const task = byName('taskmesh.task reverse');
  assert.equal(task.parentSpanId, CALLER_SPAN);
  assert.equal(byName('taskmesh.accept').parentSpanId, task.spanId);
  assert.equal(byName('taskmesh.queue').parentSpanId, task.spanId);
  const attempt = byName('taskmesh.attempt 1');
  assert.equal(attempt.parentSpanId, task.spanId);
  const handler = byName('taskmesh.handler reverse');
  assert.equal(handler.parentSpanId, attempt.spanId);
  const worker = attempt.attributes?.find((a) => a.key === 'taskmesh.worker')?.value;
  assert.deepEqual(worker, { stringValue: res.body.worker });

  // The trace id is on the task's trace (the dashboard's task page shows it).
  const trace = await api(suite.dispatcherUrl!, `/v1/tasks/${res.body.id}/trace`);
  assert.equal(trace.body.traceId, TRACE);
});

test('a task without a traceparent, an unsampled or a malformed one exports nothing', async () => {
  const before = spans.length;
  const other = 'a'.repeat(32);
  for (const traceparent of [undefined, `00-${other}-${CALLER_SPAN}-00`, `00-${'0'.repeat(32)}-${CALLER_SPAN}-01`, 'garbage']) {
    const res = await api(suite.dispatcherUrl!, '/v1/tasks?wait=10000', {
      body: { type: 'reverse', payload: { text: 'untraced' } },
      ...(traceparent === undefined ? {} : { headers: { traceparent } }),
    });
    assert.equal(res.body.status, 'succeeded');
    assert.equal((await api(suite.dispatcherUrl!, `/v1/tasks/${res.body.id}/trace`)).body.traceId, null);
  }
  // One traced task after them: once its spans arrived, the untraced ones would have too.
  const marker = 'b'.repeat(32);
  await api(suite.dispatcherUrl!, '/v1/tasks?wait=10000', {
    body: { type: 'reverse', payload: { text: 'marker' } },
    headers: { traceparent: `00-${marker}-${CALLER_SPAN}-01` },
  });
  await eventually('the marker spans', () => spans.filter((s) => s.traceId === marker).length >= 5);
  assert.deepEqual(
    spans.slice(before).filter((s) => s.traceId !== marker),
    [],
  );
});

test('without OTEL_EXPORTER_OTLP_ENDPOINT a traceparent is still kept with the task: its trace names the trace id', async () => {
  const res = await api(untraced.dispatcherUrl!, '/v1/tasks?wait=10000', {
    body: { type: 'reverse', payload: { text: 'kept' } },
    headers: { traceparent: `00-${'c'.repeat(32)}-${CALLER_SPAN}-01` },
  });
  assert.equal(res.body.status, 'succeeded');
  assert.equal((await api(untraced.dispatcherUrl!, `/v1/tasks/${res.body.id}/trace`)).body.traceId, 'c'.repeat(32));
});

test('with OTEL_TRACES_SAMPLER=parentbased_always_on a task without a traceparent starts its own trace: a root task span, the rest under it', async () => {
  const res = await api(sampling.dispatcherUrl!, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'own trace' } } });
  assert.equal(res.body.status, 'succeeded');
  const traceId = (await api(sampling.dispatcherUrl!, `/v1/tasks/${res.body.id}/trace`)).body.traceId as string;
  assert.match(traceId, /^[0-9a-f]{32}$/);
  const mine = await eventually('the five spans of the task', () => {
    const found = spans.filter((s) => s.traceId === traceId);
    return found.length >= 5 ? found : undefined;
  });
  const task = mine.find((s) => s.name === 'taskmesh.task reverse');
  assert.ok(task);
  assert.ok(task.parentSpanId === undefined || task.parentSpanId === '', `a root span (parent ${task.parentSpanId})`);
  const attempt = mine.find((s) => s.name === 'taskmesh.attempt 1');
  assert.equal(attempt?.parentSpanId, task.spanId);
  assert.equal(mine.find((s) => s.name === 'taskmesh.handler reverse')?.parentSpanId, attempt.spanId);
  // A caller's unsampled traceparent is still its decision.
  const declined = await api(sampling.dispatcherUrl!, '/v1/tasks?wait=10000', {
    body: { type: 'reverse', payload: { text: 'declined' } },
    headers: { traceparent: `00-${'d'.repeat(32)}-${CALLER_SPAN}-00` },
  });
  assert.equal((await api(sampling.dispatcherUrl!, `/v1/tasks/${declined.body.id}/trace`)).body.traceId, null);
});

test('a sampler the dispatcher does not offer stops it at start, naming the variable', async () => {
  await assert.rejects(startLocalSuite({ workers: [], dispatcherEnv: { OTEL_TRACES_SAMPLER: 'jaeger_remote' } }), /OTEL_TRACES_SAMPLER/);
});
