import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { createTaskEntry, type TaskEntry } from '../task-entry.js';
import { TaskJournal } from './task-journal.js';

const OPTIONS = { retentionMs: 3_600_000, retentionBytes: 1024 ** 3 };

async function journalDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-journal-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'journal');
}

const written = (journal: TaskJournal): Promise<void> =>
  new Promise((resolve, reject) => journal.afterWrite((err) => (err ? reject(err) : resolve())));

function task(text: string): TaskEntry {
  const payload = { text };
  const payloadText = JSON.stringify(payload);
  return createTaskEntry(
    { type: 'upper', payload, payloadText, payloadBytes: payloadText.length },
    { timeoutMs: 30_000, maxAttempts: 3 },
    false,
  );
}

/** Every key and the bytes of its value, straight from LevelDB. */
async function rawRecords(path: string): Promise<Map<string, number>> {
  const db = new ClassicLevel<string, Buffer>(path, { valueEncoding: 'buffer' });
  const out = new Map<string, number>();
  for await (const [key, value] of db.iterator()) out.set(key, value.length);
  await db.close();
  return out;
}

test('a large payload is written once, under its own key; its task reads back whole after a restart', async (t) => {
  const path = await journalDir(t);
  const { journal } = await TaskJournal.open(path, 'process', OPTIONS);
  const entry = task('x'.repeat(200_000));
  journal.save(entry);
  await written(journal);
  entry.record.status = 'running';
  journal.save(entry);
  await written(journal);
  entry.record.status = 'succeeded';
  entry.record.result = { text: 'X'.repeat(200_000) };
  entry.resultText = JSON.stringify(entry.record.result);
  entry.resultBytes = entry.resultText.length;
  journal.save(entry);
  await written(journal);
  // Three writes of the task: its payload went in the first one only.
  assert.equal(journal.counters.writes, 4);
  await journal.close();

  const records = await rawRecords(path);
  const id = entry.record.id;
  assert.ok((records.get(`p:${id}`) ?? 0) > 200_000, 'the payload has a record of its own');
  const taskBytes = records.get(`t:${id}`) ?? 0;
  assert.ok(taskBytes > 200_000 && taskBytes < 210_000, `the task's record holds its result, not its payload again (${taskBytes} bytes)`);

  const reopened = await TaskJournal.open(path, 'process', OPTIONS);
  t.after(() => reopened.journal.close());
  const back = reopened.journal.read(id);
  assert.deepEqual(back?.record.payload, entry.record.payload);
  assert.deepEqual(back?.record.result, entry.record.result);
  assert.equal(back?.record.status, 'succeeded');
  // What retention counts of it: both records, as written.
  assert.ok(reopened.journal.retained.bytes > 400_000, `${reopened.journal.retained.bytes} bytes counted`);
});

test('an unfinished task with a large payload is recovered with it', async (t) => {
  const path = await journalDir(t);
  const { journal } = await TaskJournal.open(path, 'process', OPTIONS);
  const entry = task('y'.repeat(50_000));
  journal.save(entry);
  await written(journal);
  await journal.close();
  const reopened = await TaskJournal.open(path, 'process', OPTIONS);
  t.after(() => reopened.journal.close());
  assert.equal(reopened.tasks.length, 1);
  assert.deepEqual(reopened.tasks[0]?.record.payload, entry.record.payload);
  assert.equal(reopened.tasks[0]?.payloadKept, true);
});

test('records written before payloads were kept apart are read as they were', async (t) => {
  const path = await journalDir(t);
  const record = {
    id: '01a25333-964c-7000-bda9-ba9c79b97eec',
    type: 'reverse',
    status: 'succeeded',
    payload: { text: 'bench-1' },
    result: { text: '1-hcneb' },
    error: null,
    attempts: 1,
    maxAttempts: 3,
    timeoutMs: 30000,
    worker: 'reverse-1',
    progress: 1,
    idempotencyKey: null,
    createdAt: Date.now(),
    startedAt: Date.now(),
    finishedAt: Date.now(),
  };
  const db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8' });
  await db.put(`t:${record.id}`, JSON.stringify({ r: record, s: 1, pb: 18, rb: 18, f: null, ab: 0, tr: [], tl: [] }));
  await db.close();
  const { journal } = await TaskJournal.open(path, 'process', OPTIONS);
  t.after(() => journal.close());
  assert.equal(journal.report.corrupt.count, 0);
  assert.deepEqual(journal.read(record.id)?.record, record);
});
