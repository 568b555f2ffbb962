import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { JournalSync, KeyValueStore, StoreBatch, StoreEntry } from './store.js';

/** A put of bytes (large records), which LevelDB takes as they are. */
const BYTES = { valueEncoding: 'buffer' } as const;
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
   * Opens (creating) the store at `path`. Only damage is repaired: a store LevelDB reports as
   * corrupt (not a LevelDB, damaged beyond its own repair) is moved aside to
   * `<path>.corrupt-<time>` and a fresh one is opened (`damage` says where, and why). Any other
   * failure (in use by another process, permissions, a full disk, an I/O error) is a
   * JournalOpenError and nothing is moved: the tasks, keys and identity in it stay for when the
   * cause is fixed.
   */
  static async open(path: string, sync: JournalSync): Promise<{ store: LevelStore; damage: StoreDamage | null }> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const copy = `${path}.logs-${stamp}`;
    let logs: string[] = [];
    let torn: string[] = [];
    let uncopied: string | null = null;
    try {
      mkdirSync(dirname(path), { recursive: true });
      // The write-ahead logs are what a crash can damage, and LevelDB replays them into its tables
      // at open (dropping what it cannot read): a copy is kept until the open says they were whole.
      logs = existsSync(path) ? readdirSync(path).filter((f) => f.endsWith('.log')) : [];
      torn = logs.map((f) => tornTail(join(path, f))).filter((t): t is string => t !== null);
    } catch (err) {
      throw new JournalOpenError(path, describe(err));
    }
    try {
      for (const f of logs) cpSync(join(path, f), join(copy, f));
    } catch (err) {
      // No room for the copy (a full disk): the journal opens without it rather than not at all.
      uncopied = `the logs could not be copied aside before the open: ${describe(err)}`;
      rmSync(copy, { recursive: true, force: true });
      logs = [];
    }
    let db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
    let damage: StoreDamage | null = null;
    try {
      await db.open();
      const dropped = [...torn, ...droppedByLevelDb(path)];
      if (dropped.length > 0) {
        damage = { movedTo: `${path}.corrupt-${stamp}`, reasons: uncopied === null ? dropped : [...dropped, uncopied], whole: false };
        if (logs.length > 0) renameSync(copy, damage.movedTo);
      }
    } catch (err) {
      const reason = describe(err);
      if (isLocked(err)) throw new JournalOpenError(path, `in use by another process: ${reason}`);
      if (!isCorrupt(err)) throw new JournalOpenError(path, reason);
      damage = { movedTo: `${path}.corrupt-${stamp}`, reasons: [reason], whole: true };
      renameSync(path, damage.movedTo);
      db = new ClassicLevel<string, string>(path, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
      await db.open();
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    return { store: new LevelStore(db, sync), damage };
  }

  get(key: string): string | undefined {
    return this.db.getSync(key);
  }

  async write(batch: StoreBatch): Promise<void> {
    // A chained batch: each operation goes to the native batch as it is added (the array form
    // copies and checks every operation in JavaScript first, which costs more than the write).
    let chained = this.db.batch();
    let ops = 0;
    for (const [key, value] of batch) {
      if (value === null) chained.del(key);
      else if (typeof value === 'string') chained.put(key, value);
      // Bytes go to the native batch as they are (as a string, they would be encoded there again).
      else chained.put(key, value as unknown as string, BYTES);
      if (++ops === MAX_BATCH_OPS) {
        await chained.write({ sync: this.sync === 'machine' });
        chained = this.db.batch();
        ops = 0;
      }
    }
    if (ops > 0) await chained.write({ sync: this.sync === 'machine' });
    else await chained.close();
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

/** What was found damaged at open: a whole store moved aside, or parts of its logs dropped (copied aside). */
export interface StoreDamage {
  movedTo: string;
  reasons: string[];
  /** The store could not be opened at all: a fresh one was started. */
  whole: boolean;
}

/** LevelDB's log blocks: 32 KiB, records with a 7-byte header (checksum, length, type). */
const LOG_BLOCK = 32 * 1024;
const LOG_HEADER = 7;
const FULL = 1;
const LAST = 4;

/**
 * Whether a LevelDB log file ends inside a record (the write a crash interrupted): LevelDB drops
 * such a tail in silence, as it should, but it is still worth a report. Returns the reason or null.
 */
function tornTail(file: string): string | null {
  const log = readFileSync(file);
  let offset = 0;
  let open = false;
  while (offset < log.length) {
    const left = LOG_BLOCK - (offset % LOG_BLOCK);
    if (left < LOG_HEADER) {
      offset += left;
      continue;
    }
    if (offset + LOG_HEADER > log.length) return `${file}: ends inside a record header (${log.length - offset} bytes dropped)`;
    const length = log.readUInt16LE(offset + 4);
    const type = log[offset + 6] ?? 0;
    if (type === 0 && length === 0) break;
    if (offset + LOG_HEADER + length > log.length) return `${file}: ends inside a record (${log.length - offset} bytes dropped)`;
    open = type !== FULL && type !== LAST;
    offset += LOG_HEADER + length;
  }
  return open ? `${file}: ends inside a fragmented record` : null;
}

/** What LevelDB's own log says it dropped while opening (checksum mismatches and the like). */
function droppedByLevelDb(path: string): string[] {
  const info = join(path, 'LOG');
  if (!existsSync(info)) return [];
  return readFileSync(info, 'utf8')
    .split('\n')
    .filter((line) => /Corruption|dropping/i.test(line))
    .map((line) => line.replace(/^\S+ \S+ /, '').trim());
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const message = err instanceof Error ? err.message : String(err);
  return cause instanceof Error ? `${message}: ${cause.message}` : message;
}

/** LevelDB said the store is damaged (its own Corruption status), not that it could not get at it. */
function isCorrupt(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'LEVEL_CORRUPTION' || (err as { code?: string }).code === 'LEVEL_CORRUPTION';
}

/**
 * A journal that cannot be opened for a reason other than damage: nothing was moved aside, and
 * the dispatcher does not start (exit 2) until the cause is fixed.
 */
export class JournalOpenError extends Error {
  constructor(path: string, reason: string) {
    super(
      `the journal at ${path} cannot be opened: ${reason}. Nothing was moved aside: fix the cause (free disk space, permissions, another dispatcher on it) and start again`,
    );
  }
}

function isLocked(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code === 'LEVEL_LOCKED' || /lock/i.test(cause?.message ?? '');
}
