import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerRecord } from '@taskmesh/shared/testing';
import { LinkFaults } from './chaos.js';

const worker = (host: string, port = 40_001) => workerRecord({ name: `reverse-${host}`, host, port });

test('loss on a worker registered by address drops both ways at that address and port only', async () => {
  const faults = new LinkFaults(() => 0);
  await faults.set(worker('127.0.0.1'), 100, Date.now() + 10_000);
  assert.equal(faults.drops('127.0.0.1', 40_001), true);
  assert.equal(faults.drops('127.0.0.1', 40_002), false);
  assert.equal(faults.drops('127.0.0.2', 40_001), false);
  assert.deepEqual(
    faults.list(Date.now()).map((f) => [f.worker, f.dropped]),
    [['reverse-127.0.0.1', 1]],
  );
});

test('loss on a worker registered by host name also drops what comes from its address', async () => {
  const faults = new LinkFaults(() => 0);
  await faults.set(worker('localhost'), 100, Date.now() + 10_000);
  // Sent to by the name it registered, heard from the address the name resolves to.
  assert.equal(faults.drops('localhost', 40_001), true);
  assert.equal(faults.drops('127.0.0.1', 40_001), true);
  assert.deepEqual(
    faults.list(Date.now()).map((f) => [f.worker, f.dropped]),
    [['reverse-localhost', 2]],
    'one fault, counting both ways',
  );
});

test('clearing a worker ends its loss under every key at once, and says whether there was one', async () => {
  const faults = new LinkFaults(() => 0);
  await faults.set(worker('localhost'), 100, Date.now() + 10_000);
  assert.equal(faults.clear('reverse-localhost'), true);
  assert.equal(faults.drops('localhost', 40_001), false);
  assert.equal(faults.drops('127.0.0.1', 40_001), false);
  assert.deepEqual(faults.list(Date.now()), []);
  assert.equal(faults.clear('reverse-localhost'), false);
});

test('a loss set again replaces the last one, and an ended loss is gone under every key', async () => {
  const faults = new LinkFaults(() => 0);
  await faults.set(worker('localhost'), 100, Date.now() + 10_000);
  await faults.set(worker('localhost'), 30, Date.now() + 10_000);
  assert.deepEqual(
    faults.list(Date.now()).map((f) => f.percent),
    [30],
  );
  await faults.set(worker('localhost'), 100, Date.now() - 1);
  assert.equal(faults.drops('127.0.0.1', 40_001), false);
  assert.equal(faults.drops('localhost', 40_001), false);
  assert.deepEqual(faults.list(Date.now()), []);
});
