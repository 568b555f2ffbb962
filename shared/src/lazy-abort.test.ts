import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abortLazily, lazySignal, type LazyAbortable } from './lazy-abort.js';

test('no controller until the signal is read; aborting after the read reaches it once', () => {
  const holder: LazyAbortable = { controller: undefined, abortReason: undefined };
  assert.equal(holder.controller, undefined);
  const signal = lazySignal(holder);
  assert.equal(lazySignal(holder), signal, 'one signal per holder');
  let heard = 0;
  signal.addEventListener('abort', () => heard++);
  assert.equal(abortLazily(holder, 'first'), true);
  assert.equal(abortLazily(holder, 'second'), false);
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, 'first');
  assert.equal(heard, 1);
});

test('aborted before anyone looked: no controller is made, and a later signal starts aborted', () => {
  const holder: LazyAbortable = { controller: undefined, abortReason: undefined };
  const reason = new Error('cancelled');
  assert.equal(abortLazily(holder, reason), true);
  assert.equal(holder.controller, undefined);
  const signal = lazySignal(holder);
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, reason);
});
