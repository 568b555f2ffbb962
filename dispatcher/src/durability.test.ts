import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ClassicLevel } from 'classic-level';
import { SINCE_TOO_OLD_CLOSE_CODE, SLOW_SUBSCRIBER_CLOSE_CODE } from '@taskmesh/shared';
import { startLocalSuite, type LocalSuite, type RunningService } from '@taskmesh/shared/testing';
import { api, eventually } from './test-support.js';

/** How many times each task id started at the given workers (their debug log's task-started lines). */
function executions(workers: RunningService[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of workers) {
    for (const line of worker.lines) {
      if (line.event === 'task-started' && typeof line.taskId === 'string') counts.set(line.taskId, (counts.get(line.taskId) ?? 0) + 1);
    }
  }
  return counts;
}

const health = async (base: string): Promise<{ journal: Record<string, any> }> => (await api(base, '/healthz')).body;

describe('accepted tasks survive a crash of the dispatcher', () => {
  let suite: LocalSuite;
  let base: string;
  before(async () => {
    // One worker: a retry the load provokes (no ack in time) finds the same worker, which knows the
    // task, so any second run could only come from the restart.
    suite = await startLocalSuite({ workers: ['wait'], workerEnv: { TASKMESH_LOG_LEVEL: 'debug', TASKMESH_WORKER_CONCURRENCY: '32' } });
    base = suite.dispatcherUrl!;
  });
  after(async () => {
    await suite?.stop();
  });

  test('SIGKILL with queued and running tasks: every accepted task succeeds after the restart, each run once', async () => {
    // 200 tasks of 400 ms on a worker that runs 32 and queues 64: some run, some wait at the
    // worker, the rest in the dispatcher.
    const tasks = Array.from({ length: 200 }, () => ({ type: 'wait', payload: { ms: 400 }, timeoutMs: 60_000 }));
    const accepted = await api(base, '/v1/tasks/batch', { body: { tasks } });
    assert.equal(accepted.status, 202);
    const ids: string[] = accepted.body.ids;
    await eventually('some tasks to run and some to finish', () => {
      const started = executions(suite.workers).size;
      return started > 40;
    });
    await suite.restartDispatcher('SIGKILL');
    const records = await Promise.all(ids.map(async (id) => (await api(base, `/v1/tasks/${id}?wait=60000`)).body));
    assert.deepEqual(
      records.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status} ${JSON.stringify(r.error)}`),
      [],
    );
    const runs = executions(suite.workers);
    const where = (id: string): string =>
      suite.workers
        .flatMap((w) => w.lines.filter((l) => l.event === 'task-started' && l.taskId === id).map((l) => `${w.name}#${String(l.attempt)}`))
        .join(',');
    assert.deepEqual(
      ids.filter((id) => runs.get(id) !== 1).map((id) => `${id}: ${runs.get(id) ?? 0} runs (${where(id)})`),
      [],
      'each task ran exactly once',
    );
    const { journal } = await health(base);
    assert.ok((journal.recovered.queued ?? 0) + (journal.recovered.running ?? 0) > 0, JSON.stringify(journal.recovered));
  });

  test('SIGKILL in the middle of batch submissions: each batch is there whole or not at all', async () => {
    for (let round = 0; round < 3; round++) {
      const marker = `round-${round}-${Date.now()}`;
      const tasks = Array.from({ length: 1000 }, (_, i) => ({ type: 'wait', payload: { ms: 0 }, idempotencyKey: `${marker}-${i}` }));
      const posting = api(base, '/v1/tasks/batch', { body: { tasks } }).catch(() => undefined);
      // Killed at a moment between sending the body and the answer.
      await new Promise((resolve) => setTimeout(resolve, round * 7));
      await suite.restartDispatcher('SIGKILL');
      const answered = await posting;
      // The keys say which of the batch's tasks exist: resubmitting finds the stored ones (200).
      const again = await Promise.all(
        [0, 999, 500].map(async (i) => (await api(base, '/v1/tasks', { body: { ...tasks[i], idempotencyKey: `${marker}-${i}` } })).status),
      );
      if (answered?.status === 202) assert.deepEqual(again, [200, 200, 200], 'an accepted batch is whole');
      else
        assert.ok(
          again.every((s) => s === again[0]),
          `all or nothing: ${again.join(',')}`,
        );
    }
  });

  test('event sequence numbers grow across a restart; an old since= is told to read task state', async () => {
    const seqOf = async (): Promise<number> => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/events?event=succeeded`);
      const first = new Promise<number>((resolve) => ws.once('message', (data) => resolve(JSON.parse((data as Buffer).toString()).seq)));
      await new Promise((resolve) => ws.once('open', resolve));
      await api(base, '/v1/tasks?wait=10000', { body: { type: 'wait', payload: { ms: 0 } } });
      const seq = await first;
      ws.close();
      return seq;
    };
    const before = await seqOf();
    await suite.restartDispatcher('SIGKILL');
    const afterRestart = await seqOf();
    assert.ok(afterRestart > before, `${afterRestart} > ${before}`);
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/events?since=${before}`);
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    });
    assert.equal(closed.code, SINCE_TOO_OLD_CLOSE_CODE);
    assert.match(closed.reason, /read task state, then resume with since=\d+/);
  });
});

describe('results outlive a burst', () => {
  let suite: LocalSuite;
  before(async () => {
    suite = await startLocalSuite({ workers: ['reverse', 'reverse'] });
  });
  after(async () => {
    await suite?.stop();
  });

  test('a burst larger than the old count limit: every result is still readable, through a restart too', async () => {
    const base = suite.dispatcherUrl!;
    const ids: string[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const tasks = Array.from({ length: 1000 }, (_, i) => ({ type: 'reverse', payload: { text: `t${batch}-${i}` } }));
      const r = await api(base, '/v1/tasks/batch', { body: { tasks } });
      assert.equal(r.status, 202);
      ids.push(...r.body.ids);
    }
    const readAll = async (): Promise<string[]> => {
      const problems: string[] = [];
      for (let i = 0; i < ids.length; i += 200) {
        const records = await Promise.all(ids.slice(i, i + 200).map(async (id) => (await api(base, `/v1/tasks/${id}?wait=30000`)).body));
        for (const r of records) if (r.status !== 'succeeded') problems.push(`${r.id ?? JSON.stringify(r)} ${r.status}`);
      }
      return problems;
    };
    assert.deepEqual(await readAll(), []);
    await suite.restartDispatcher('SIGKILL');
    assert.deepEqual(await readAll(), [], 'read back from the journal after a crash');
    // Traces are kept with the task, in the journal too.
    const trace = (await api(base, `/v1/tasks/${ids[0]}/trace`)).body;
    assert.equal(trace.attempts[0].outcome, 'succeeded');
    assert.ok(trace.attempts[0].reason.length > 0);
    assert.deepEqual(
      trace.events.map((e: { event: string }) => e.event),
      ['submitted', 'dispatched', 'succeeded'],
    );
    // The list pages through the journal with a cursor.
    let cursor: string | null = null;
    let listed = 0;
    do {
      const page: { body: { tasks: unknown[]; nextCursor: string | null } } = await api(
        base,
        `/v1/tasks?status=succeeded&type=reverse&limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      listed += page.body.tasks.length;
      cursor = page.body.nextCursor;
    } while (cursor !== null);
    assert.equal(listed, ids.length);
  });

  test('a plain subscriber (one message per event) keeps up with a 20,000-task batch: every completion, no close', async () => {
    const base = suite.dispatcherUrl!;
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/events`);
    await new Promise((resolve) => ws.once('open', resolve));
    let closed: number | undefined;
    ws.on('close', (code) => (closed = code));
    const succeeded = new Set<string>();
    ws.on('message', (data) => {
      const event = JSON.parse((data as Buffer).toString()) as { event: string; taskId: string };
      if (event.event === 'succeeded') succeeded.add(event.taskId);
    });
    const ids: string[] = [];
    // Four batches of 500 in flight at a time, as the benchmark sends them.
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, (_, b) =>
          api(base, '/v1/tasks/batch', {
            body: { tasks: Array.from({ length: 500 }, (_, i) => ({ type: 'reverse', payload: { text: `plain ${round} ${b} ${i}` } })) },
          }),
        ),
      );
      for (const answer of answers) ids.push(...answer.body.ids);
    }
    await eventually('every completion to arrive', () => ids.every((id) => succeeded.has(id)), { timeoutMs: 60_000 });
    assert.equal(closed, undefined);
    ws.close();
  });
});

describe('events are never lost in silence', () => {
  let suite: LocalSuite;
  before(async () => {
    suite = await startLocalSuite({ workers: ['reverse'], dispatcherEnv: { TASKMESH_EVENTS_BACKLOG_BYTES: '65536' } });
  });
  after(async () => {
    await suite?.stop();
  });

  test('a slow subscriber is closed with the documented code, resumes with since, and sees every event once', async () => {
    const base = suite.dispatcherUrl!;
    // Every kind of event: enough bytes to fill the kernel's socket buffers, then the dispatcher's bound.
    const wsUrl = `${base.replace('http', 'ws')}/v1/events?type=reverse`;
    const seen = new Map<string, number>();
    let lastSeq = 0;
    const take = (data: WebSocket.RawData): void => {
      const event = JSON.parse((data as Buffer).toString()) as { seq: number; taskId: string; event: string };
      assert.ok(event.seq > lastSeq, 'in order');
      lastSeq = event.seq;
      if (event.event === 'succeeded') seen.set(event.taskId, (seen.get(event.taskId) ?? 0) + 1);
    };
    // The first subscriber stops reading: its socket fills, and the dispatcher closes it.
    const slow = new WebSocket(wsUrl);
    await new Promise((resolve) => slow.once('open', resolve));
    slow.on('message', take);
    (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      slow.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    const ids: string[] = [];
    for (let batch = 0; batch < 30; batch++) {
      const tasks = Array.from({ length: 1000 }, (_, i) => ({
        type: 'reverse',
        payload: { text: `event ${batch} ${i} ${'x'.repeat(40)}` },
      }));
      ids.push(...(await api(base, '/v1/tasks/batch', { body: { tasks } })).body.ids);
    }
    await eventually(
      'the slow subscriber to be closed',
      async () => (await api(base, '/metrics')).body.includes('taskmesh_dispatcher_event_subscribers_closed_slow_total 1'),
      {
        timeoutMs: 30_000,
      },
    );
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code, reason } = await closed;
    assert.equal(code, SLOW_SUBSCRIBER_CLOSE_CODE);
    const since = Number(/since=(\d+)/.exec(reason)?.[1]);
    assert.equal(since, lastSeq, 'the reason names the last event it was sent');
    // Resumed: the missed events first (far over the backlog bound too: they come at the pace the
    // subscriber reads), then live ones, until every task's event arrived. A subscriber this slow
    // on a busy machine may be closed again while live: it resumes again, as a client does.
    let current: WebSocket | undefined;
    let done = false;
    const closes: number[] = [];
    const resume = (from: number): void => {
      const ws = new WebSocket(`${wsUrl}&since=${from}`);
      ws.on('message', take);
      ws.on('close', (closeCode) => {
        if (done) return;
        closes.push(closeCode);
        if (closes.length < 20) resume(lastSeq);
      });
      current = ws;
    };
    resume(since);
    await eventually('every task to be seen', () => closes.length >= 20 || ids.every((id) => seen.has(id)), {
      timeoutMs: 60_000,
    });
    done = true;
    current?.close();
    // Closed only for being slow (or cut off when even the close could not get through).
    assert.deepEqual(
      closes.filter((c) => c !== SLOW_SUBSCRIBER_CLOSE_CODE && c !== 1006),
      [],
    );
    assert.ok(closes.length < 20, `resumed ${closes.length} times`);
    assert.deepEqual(
      ids.filter((id) => seen.get(id) !== 1),
      [],
      'each exactly once',
    );
  });
});

describe('a damaged journal is recovered, reported and served', () => {
  const withJournal = async (
    prepare: (path: string) => Promise<void>,
  ): Promise<{ suite: LocalSuite; base: string; path: string; id: string }> => {
    const suite = await startLocalSuite({ workers: ['reverse'] });
    const path = join(suite.dir, 'dispatcher-journal');
    const first = await api(suite.dispatcherUrl!, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'kept' } } });
    assert.equal(first.body.status, 'succeeded');
    // A few hundred more, so the log has records to damage after the first one.
    const tasks = Array.from({ length: 500 }, (_, i) => ({ type: 'reverse', payload: { text: `filler ${i} ${'y'.repeat(200)}` } }));
    await api(suite.dispatcherUrl!, '/v1/tasks/batch', { body: { tasks } });
    await suite.dispatcher!.kill('SIGKILL');
    await prepare(path);
    await suite.restartDispatcher('SIGKILL');
    return { suite, base: suite.dispatcherUrl!, path, id: first.body.id };
  };
  const serves = async (base: string): Promise<void> => {
    const r = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'still serving' } } });
    assert.equal(r.body.status, 'succeeded');
  };

  test('a log cut off in the middle of a record: the whole records are recovered, the cut is reported', async () => {
    const { suite, base, id } = await withJournal(async (path) => {
      const log = (await readdir(path)).find((f) => f.endsWith('.log'))!;
      const { size } = await stat(join(path, log));
      await truncate(join(path, log), Math.floor(size * 0.6) + 3);
    });
    try {
      const { journal } = await health(base);
      assert.equal(journal.damage.whole, false);
      assert.match(journal.damage.reasons.join(' '), /ends inside a record/);
      assert.equal((await api(base, `/v1/tasks/${id}`)).body.status, 'succeeded', 'a task written before the cut is still there');
      await serves(base);
    } finally {
      await suite.stop();
    }
  });

  test('a store full of garbage: moved aside and reported; the dispatcher starts empty and serves', async () => {
    const { suite, base, path } = await withJournal(async (dir) => {
      for (const f of await readdir(dir)) if (f !== 'LOCK') await writeFile(join(dir, f), Buffer.alloc(4096, 0x5a));
    });
    try {
      const { journal } = await health(base);
      assert.equal(journal.damage.whole, true);
      assert.ok(journal.damage.movedTo.startsWith(`${path}.corrupt-`));
      assert.ok((await stat(journal.damage.movedTo)).isDirectory());
      await serves(base);
    } finally {
      await suite.stop();
    }
  });

  test('records that are not tasks: each moved aside and counted, the rest recovered', async () => {
    const { suite, base, id } = await withJournal(async (path) => {
      const db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8' });
      await db.put('t:not-json', '{"r": tru');
      await db.put('t:wrong-shape', JSON.stringify({ r: { id: 'wrong-shape' }, s: 1 }));
      await db.close();
      await appendFile(join(path, 'ignored.txt'), 'x');
    });
    try {
      const { journal } = await health(base);
      assert.equal(journal.corrupt.count, 2);
      assert.match(journal.corrupt.reasons.join(' '), /not JSON/);
      assert.ok(journal.corrupt.movedTo.endsWith('.corrupt-records.jsonl'));
      assert.equal((await api(base, `/v1/tasks/${id}`)).body.status, 'succeeded');
      await serves(base);
    } finally {
      await suite.stop();
    }
  });
});
