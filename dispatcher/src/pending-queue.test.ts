import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TaskRecord } from '@taskmesh/shared';
import { PendingQueue } from './pending-queue.js';
import { newTaskEntry, type TaskEntry } from './task-entry.js';

function entry(id: string, type = 'hash'): TaskEntry {
  const record = { id, type, status: 'queued', payload: null } as unknown as TaskRecord;
  return newTaskEntry(record, false, 0);
}

test('FIFO per type, head insertion after BUSY, lazy removal', () => {
  const q = new PendingQueue(10);
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => entry(id));
  const other = entry('o', 'wait');
  q.add(a!);
  q.add(b!);
  q.add(c!);
  q.add(other);
  assert.equal(q.size, 4);
  assert.equal(q.peek('hash'), a);
  q.remove(a!);
  q.remove(b!);
  assert.equal(q.peek('hash'), c);
  q.add(d!, true);
  assert.equal(q.peek('hash'), d, 'a task put back first is next');
  assert.equal(q.peek('wait'), other);
  assert.deepEqual([...q.busyTypes()].sort(), ['hash', 'wait']);
  assert.equal(q.size, 3);
  q.add(b!);
  assert.equal(q.size, 4);
  assert.equal(q.hasRoom(6), true);
  assert.equal(q.hasRoom(7), false);
});

test('a removed and re-added task appears once, at its new place', () => {
  const q = new PendingQueue(10);
  const a = entry('a');
  const b = entry('b');
  q.add(a);
  q.add(b);
  q.remove(a);
  q.add(a);
  assert.equal(q.peek('hash'), b);
  q.remove(b);
  assert.equal(q.peek('hash'), a);
  q.remove(a);
  assert.equal(q.peek('hash'), undefined);
  assert.equal(q.size, 0);
});

test('matches a reference model under random operations', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('add', 'addFirst', 'remove', 'take'), fc.integer({ min: 0, max: 7 })), { maxLength: 3000 }),
      (ops) => {
        const q = new PendingQueue(1000);
        const entries = Array.from({ length: 8 }, (_, i) => entry(`e${i}`));
        const model: TaskEntry[] = [];
        for (const [op, i] of ops) {
          const e = entries[i]!;
          if (op === 'add' || op === 'addFirst') {
            if (model.includes(e)) continue;
            q.add(e, op === 'addFirst');
            if (op === 'add') model.push(e);
            else model.unshift(e);
          } else if (op === 'remove') {
            q.remove(e);
            const at = model.indexOf(e);
            if (at >= 0) model.splice(at, 1);
          } else {
            const head = q.peek('hash');
            assert.equal(head, model[0]);
            if (head !== undefined) {
              q.remove(head);
              model.shift();
            }
          }
          assert.equal(q.size, model.length);
        }
        assert.equal(q.peek('hash'), model[0]);
      },
    ),
    { numRuns: 200 },
  );
});
