import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { traceDecision } from './sampler.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const sampled = `00-${TRACE}-${SPAN}-01`;
const unsampled = `00-${TRACE}-${SPAN}-00`;

test('unset: a caller sampled it or it is not traced; no trace of its own', () => {
  const decide = traceDecision({ exporting: true });
  assert.deepEqual(decide(sampled), { traceId: TRACE, parentSpanId: SPAN });
  assert.equal(decide(unsampled), null);
  assert.equal(decide(undefined), null);
  assert.equal(decide('garbage'), null);
});

test('always_on: every task is traced, in its own trace (a root: no parent span) when the caller sent none', () => {
  const decide = traceDecision({ sampler: 'always_on', exporting: true });
  const own = decide(undefined)!;
  assert.match(own.traceId, /^[0-9a-f]{32}$/);
  assert.equal(own.parentSpanId, '');
  assert.notEqual(decide(undefined)!.traceId, own.traceId);
  // Not parent-based: an unsampled caller's trace is traced too.
  assert.deepEqual(decide(unsampled), { traceId: TRACE, parentSpanId: SPAN });
});

test('parentbased_*: a caller decides for its tasks; the root sampler for the rest', () => {
  for (const sampler of ['parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const) {
    const decide = traceDecision({ sampler, ratio: 0.5, exporting: true });
    assert.deepEqual(decide(sampled), { traceId: TRACE, parentSpanId: SPAN }, sampler);
    assert.equal(decide(unsampled), null, sampler);
  }
  assert.equal(traceDecision({ sampler: 'parentbased_always_off', exporting: true })(undefined), null);
  assert.equal(traceDecision({ sampler: 'parentbased_always_on', exporting: true })(undefined)?.parentSpanId, '');
  assert.equal(traceDecision({ sampler: 'always_off', exporting: true })(sampled), null, 'always_off traces nothing');
});

test('without an exporter no trace is started, and callers are still followed', () => {
  const decide = traceDecision({ sampler: 'always_on', exporting: false });
  assert.equal(decide(undefined), null);
  assert.deepEqual(decide(sampled), { traceId: TRACE, parentSpanId: SPAN });
  assert.equal(decide(unsampled), null);
});

test('traceidratio keeps about its share of new traces, and decides the same for the same trace id (property)', () => {
  const ratio = 0.25;
  const decide = traceDecision({ sampler: 'traceidratio', ratio, exporting: true });
  let kept = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) if (decide(undefined) !== null) kept++;
  // Binomial(20000, 0.25): the standard deviation is ~61; ten of them either way.
  assert.ok(Math.abs(kept - n * ratio) < 610, `kept ${kept} of ${n}`);
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9a-f]{32}$/), (traceId) => {
      fc.pre(!/^0+$/.test(traceId));
      const header = `00-${traceId}-${SPAN}-00`;
      const first = decide(header);
      assert.deepEqual(decide(header), first);
      // A higher ratio keeps every trace a lower one keeps.
      if (first !== null) assert.notEqual(traceDecision({ sampler: 'traceidratio', ratio: 0.5, exporting: true })(header), null);
    }),
  );
  assert.equal(traceDecision({ sampler: 'traceidratio', ratio: 0, exporting: true })(undefined), null);
});
