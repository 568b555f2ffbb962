import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TEST_SECRET, serviceScript, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { api, eventually } from './test-support.js';

/**
 * The journal bounded by what it really stores, against real dispatcher processes: retention
 * counts each record as written (keys included) and caps their count, a start reads back only the
 * live tasks, a page and a bulk action hold a bounded part of the journal, and a journal that
 * cannot be opened for a reason other than damage stops the dispatcher with nothing moved aside.
 */
interface JournalHealth {
  retained: { bytes: number; records: number };
  deleted: number;
}
const journalOf = async (base: string): Promise<JournalHealth> => (await api(base, '/healthz')).body.journal;

/** `count` tiny tasks, each with an idempotency key, submitted in batches and waited for. */
async function tinyTasks(base: string, count: number, prefix: string): Promise<void> {
  for (let at = 0; at < count; at += 500) {
    const tasks = Array.from({ length: Math.min(500, count - at) }, (_, i) => ({
      type: 'reverse',
      payload: { text: '' },
      idempotencyKey: `${prefix}-${at + i}`,
    }));
    const r = await api(base, '/v1/tasks/batch', { body: { tasks } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  await eventually(
    'every task finished',
    async () => {
      const { totals } = (await api(base, '/v1/stats')).body;
      return totals.queued + totals.running === 0 || undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/** A dispatcher process of its own on the suite's nameservice, journaling at `path`. */
function spawnDispatcher(suite: LocalSuite, path: string): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [serviceScript('dispatcher')], {
    env: {
      ...process.env,
      ...suite.env,
      TASKMESH_SECRET: TEST_SECRET,
      TASKMESH_DISPATCHER_PORT: '0',
      TASKMESH_DISPATCHER_HOST: '127.0.0.1',
      TASKMESH_JOURNAL_PATH: path,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

describe('retention counts what the journal really holds', () => {
  test('tiny tasks count their whole records (keys included) against TASKMESH_JOURNAL_RETENTION_BYTES, and their number against _RECORDS', async () => {
    const suite = await startLocalSuite({
      workers: ['reverse'],
      dispatcherEnv: { TASKMESH_JOURNAL_RETENTION_BYTES: String(400 * 1024), TASKMESH_JOURNAL_RETENTION_RECORDS: '1500' },
    });
    try {
      const base = suite.dispatcherUrl!;
      await tinyTasks(base, 3000, 'tiny');
      await eventually(
        'every task in the journal',
        async () => (await journalOf(base)).retained.records + (await journalOf(base)).deleted >= 3000,
        {
          timeoutMs: 20_000,
        },
      );
      // A record of an empty reverse task is hundreds of bytes (ids, times, timeline, its key), not its 13-byte payload.
      const { retained } = await journalOf(base);
      if (retained.records > 0) assert.ok(retained.bytes / retained.records > 300, `${retained.bytes / retained.records} bytes a task`);
      await eventually(
        'the sweep to bring the journal within both bounds',
        async () => {
          const j = await journalOf(base);
          return j.retained.bytes <= 400 * 1024 && j.retained.records <= 1500 ? j : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      assert.ok((await journalOf(base)).deleted >= 1500);
    } finally {
      await suite.stop();
    }
  });
});

describe('a start reads back the live tasks, not everything retained', () => {
  test('after a restart finished tasks are not held in memory, yet each is still readable from the journal', async () => {
    const suite = await startLocalSuite({ workers: ['reverse'] });
    try {
      const first = await api(suite.dispatcherUrl!, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'kept' } } });
      assert.equal(first.body.status, 'succeeded');
      await tinyTasks(suite.dispatcherUrl!, 2000, 'before');
      assert.ok((await api(suite.dispatcherUrl!, '/v1/stats')).body.retainedBytes > 0);
      await suite.restartDispatcher('SIGKILL');
      const base = suite.dispatcherUrl!;
      const stats = (await api(base, '/v1/stats')).body;
      assert.equal(stats.retainedBytes, 0, 'nothing finished read into memory at the start');
      const again = await api(base, `/v1/tasks/${first.body.id}`);
      assert.equal(again.body.status, 'succeeded');
      assert.deepEqual(again.body.result, { text: 'tpek' });
      // An idempotency key of before the restart still names its task.
      const dup = await api(base, '/v1/tasks', { body: { type: 'reverse', payload: { text: '' }, idempotencyKey: 'before-7' } });
      assert.equal(dup.status, 200, JSON.stringify(dup.body));
    } finally {
      await suite.stop();
    }
  });
});

describe('a page and a bulk action hold a bounded part of the journal', () => {
  test('a full page stops at its byte budget and says where to continue; the pages together are every task once', async () => {
    const suite = await startLocalSuite({ workers: ['reverse'] });
    try {
      const base = suite.dispatcherUrl!;
      const text = 'x'.repeat(400 * 1024);
      const tasks = Array.from({ length: 30 }, () => ({ type: 'reverse', payload: { text } }));
      for (const batch of [tasks.slice(0, 10), tasks.slice(10, 20), tasks.slice(20)]) {
        assert.equal((await api(base, '/v1/tasks/batch', { body: { tasks: batch } })).status, 202);
      }
      await eventually('all thirty finished', async () => (await api(base, '/v1/stats')).body.totals.succeeded === 30 || undefined, {
        timeoutMs: 20_000,
      });
      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: { tasks: Array<{ id: string }>; nextCursor: string | null } } = await api(
          base,
          `/v1/tasks?limit=1000&full=1${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        assert.equal(r.status, 200);
        // A page is the budget (4 MiB) and at most one record (payload and result, 800 KB) past it.
        assert.ok(JSON.stringify(r.body).length < 6 * 1024 * 1024, `a page of ${JSON.stringify(r.body).length} bytes`);
        for (const t of r.body.tasks) {
          assert.ok(!seen.has(t.id), 'no task on two pages');
          seen.add(t.id);
        }
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor !== null && pages < 20);
      assert.equal(seen.size, 30);
      assert.ok(pages >= 3, `${pages} pages`);
    } finally {
      await suite.stop();
    }
  });

  test('a bulk action reads at most TASKMESH_BULK_MAX_SCAN records and says where to continue; the CLI goes on to the end', async () => {
    const suite = await startLocalSuite({ workers: ['reverse'], dispatcherEnv: { TASKMESH_BULK_MAX_SCAN: '2000' } });
    try {
      const base = suite.dispatcherUrl!;
      await tinyTasks(base, 5000, 'bulk');
      // Nothing is failed: the filter matches nothing, and each request stops after its scan bound.
      const r = await api(base, '/v1/tasks/bulk/retry', { body: { status: 'failed' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.matched, 0);
      assert.match(String(r.body.nextCursor), /^[0-9a-f-]{36}$/);
      const next = await api(base, '/v1/tasks/bulk/retry', { body: { status: 'failed', cursor: r.body.nextCursor } });
      assert.equal(next.body.matched, 0);
      assert.notEqual(next.body.nextCursor, r.body.nextCursor);
      const cli = spawn(process.execPath, [serviceScript('client'), '--dispatcher', base, 'retry', '--status', 'failed', '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const [code] = (await once(cli, 'exit')) as [number];
      assert.equal(code, 0);
      assert.deepEqual(JSON.parse(out), { matched: 0, changed: 0, refused: {} });
    } finally {
      await suite.stop();
    }
  });
});

describe('a journal that cannot be opened is not treated as damaged', () => {
  test('a journal path the store cannot open (a file): the dispatcher stops with exit 2 saying why, and nothing is moved aside', async () => {
    const suite = await startLocalSuite({ workers: [], dispatcher: false });
    try {
      const path = join(suite.dir, 'not-a-directory');
      await writeFile(path, 'the operator put a file here');
      const child = spawnDispatcher(suite, path);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 2, stderr);
      assert.match(stderr, /the journal at .*not-a-directory cannot be opened: .*Nothing was moved aside/);
      assert.equal((await stat(path)).isFile(), true, 'the file is where it was');
      assert.deepEqual(
        (await readdir(suite.dir)).filter((f) => f.includes('.corrupt-')),
        [],
      );
    } finally {
      await suite.stop();
    }
  });
});

/** A tmpfs of `bytes` at `dir` (root only); undefined where this machine cannot mount one. */
function mountTmpfs(dir: string, bytes: number): (() => void) | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (mounted.status !== 0) return undefined;
  return () => void spawnSync('umount', ['-l', dir]);
}

describe('a full disk never crash-loops the dispatcher', () => {
  test('with no byte left on the journal’s disk, a restart serves or stops with exit 2 naming the journal, never crashes, nothing moved aside', async (t) => {
    const suite = await startLocalSuite({ workers: ['reverse'], dispatcher: false });
    const disk = join(suite.dir, 'disk');
    await mkdir(disk);
    const unmount = mountTmpfs(disk, 8 * 1024 * 1024);
    // The disk goes before the suite's folder it is mounted in.
    t.after(async () => {
      unmount?.();
      await suite.stop();
    });
    if (unmount === undefined) {
      t.skip('needs root and tmpfs to make a full disk');
      return;
    }
    const path = join(disk, 'journal');
    const first = spawnDispatcher(suite, path);
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      first.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const ready = /"event":"ready".*?"http":(\d+)/.exec(out);
        if (ready) resolve(Number(ready[1]));
      });
      first.once('exit', (code) => reject(new Error(`exited ${code} before ready`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const kept = await api(base, '/v1/tasks?wait=10000', { body: { type: 'reverse', payload: { text: 'kept' } } });
    assert.equal(kept.body.status, 'succeeded');
    first.kill('SIGKILL');
    await once(first, 'exit');
    // Every byte of the disk taken, as a runaway log would.
    const filler = spawnSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=64k'], { encoding: 'utf8' });
    assert.match(filler.stderr, /No space left/);
    const again = spawnDispatcher(suite, path);
    let stderr = '';
    again.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let stdout = '';
    const outcome = await new Promise<'ready' | number>((resolve) => {
      again.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('"event":"ready"')) resolve('ready');
      });
      again.once('exit', (code) => resolve(code ?? -1));
    });
    if (outcome === 'ready') {
      // It serves: what it had accepted is still there.
      again.kill('SIGKILL');
      await once(again, 'exit');
    } else {
      assert.equal(outcome, 2, `a crash, not a stop: ${stderr}`);
      assert.match(stderr, /the journal at .* cannot be opened: .*Nothing was moved aside/);
    }
    assert.deepEqual(
      (await readdir(disk)).filter((f) => f.includes('.corrupt-')),
      [],
    );
  });
});
