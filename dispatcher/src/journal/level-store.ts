import { mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { JournalSync, KeyValueStore, StoreBatch, StoreEntry } from './store.js';

/** Writes per LevelDB batch, at most: a long turn's writes go out in several. */
const MAX_BATCH_OPS = 20_000;

/**
 * The journal's storage on LevelDB (classic-level: prebuilt binaries from the registry, no
 * compiler). Chosen over lmdb, which is faster, because a garbage or damaged lmdb file crashed the
 * process that opened it (SIGSEGV, abort), and the dispatcher must never crash-loop on its own
 * files: LevelDB reports a damaged store as an error and recovers a torn log up to its last whole
 * record. Writes are group-committed: what is queued while a batch is being written goes out as
 * the next one, and a batch's callbacks run once it is written (to the OS; with `machine`, synced).
 */
export class LevelStore implements KeyValueStore {
  private constructor(
    private readonly db: ClassicLevel<string, string>,
    readonly sync: JournalSync,
  ) {}

  /**
   * Opens (creating) the store at `path`. A store that cannot be opened (not a LevelDB, damaged
   * beyond its own repair) is moved aside to `<path>.corrupt-<time>` and a fresh one is opened:
   * `movedAside` says where, and why.
   */
  static async open(path: string, sync: JournalSync): Promise<{ store: LevelStore; movedAside: { to: string; reason: string } | null }> {
    mkdirSync(dirname(path), { recursive: true });
    let movedAside: { to: string; reason: string } | null = null;
    let db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
    try {
      await db.open();
    } catch (err) {
      const reason = describe(err);
      if (isLocked(err)) throw new Error(`the journal at ${path} is in use by another process: ${reason}`);
      const to = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(path, to);
      movedAside = { to, reason };
      db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
      await db.open();
    }
    return { store: new LevelStore(db, sync), movedAside };
  }

  get(key: string): string | undefined {
    return this.db.getSync(key);
  }

  async write(batch: StoreBatch): Promise<void> {
    const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'del'; key: string }> = [];
    for (const [key, value] of batch) ops.push(value === null ? { type: 'del', key } : { type: 'put', key, value });
    for (let start = 0; start < ops.length; start += MAX_BATCH_OPS) {
      await this.db.batch(ops.slice(start, start + MAX_BATCH_OPS), { sync: this.sync === 'machine' });
    }
  }

  async *range(options: { gt?: string; lt?: string; reverse?: boolean; limit?: number }): AsyncGenerator<StoreEntry> {
    const iterator = this.db.iterator({ ...options, limit: options.limit ?? -1 });
    try {
      for (;;) {
        const entries = await iterator.nextv(1000);
        if (entries.length === 0) return;
        for (const [key, value] of entries) yield { key, value };
      }
    } finally {
      await iterator.close();
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause instanceof Error ? `${message}: ${cause.message}` : message;
}

function isLocked(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '');
}
