import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeContract, findContract, type WorkerRecord } from '@taskmesh/shared';
import { workerRecord } from '@taskmesh/shared/testing';
import { TypeCatalog } from './type-catalog.js';
import { eventually } from './test-support.js';

// A type of one's own with the payload of reverse ({text: string}).
const contract = describeContract({ ...findContract('reverse')!, name: 'wordcount', description: 'Counts the words of a text' });

const worker = workerRecord({ name: 'wordcount-1', type: 'wordcount', contract });

test('a worker of a type not known yet is learned when it comes up, not at the next refresh', async (t) => {
  let listed: WorkerRecord[] = [];
  let lists = 0;
  // A refresh an hour away: only learnNow can teach it the type within the test.
  const catalog = new TypeCatalog({ list: () => (lists++, Promise.resolve(listed)), refreshMs: 3_600_000 });
  t.after(() => catalog.close());
  catalog.start();
  await eventually('the first list', () => lists === 1);
  assert.equal(catalog.has('wordcount'), false);
  listed = [worker];
  catalog.learnNow('wordcount');
  await eventually('wordcount to be known', () => catalog.has('wordcount'));
  assert.throws(() => catalog.validate('wordcount', { text: 3 }, ''), /text/);
  // A type it knows (or a built-in) costs no list.
  catalog.learnNow('wordcount');
  catalog.learnNow('reverse');
  assert.equal(lists, 2);
});
