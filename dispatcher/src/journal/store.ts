/**
 * What the journal needs of a storage engine: ordered string keys, batched writes, point reads
 * and range scans. LevelStore implements it on LevelDB; a store shared by several dispatchers
 * (a database) can implement it too.
 */
export interface KeyValueStore {
  readonly sync: JournalSync;
  /** A point read (synchronous: the journal serves GET /v1/tasks/:id from it). */
  get(key: string): string | undefined;
  /** Writes a batch (null deletes), resolved once it is as durable as `sync` promises. */
  write(batch: StoreBatch): Promise<void>;
  /** Entries in key order (or reversed) between the bounds. */
  range(options: { gt?: string; lt?: string; reverse?: boolean; limit?: number }): AsyncIterable<StoreEntry>;
  close(): Promise<void>;
}

/** Keys to their new values (a string, or its UTF-8 bytes), or null to delete them. */
export type StoreBatch = ReadonlyMap<string, string | Buffer | null>;

export interface StoreEntry {
  key: string;
  value: string;
}

/**
 * TASKMESH_JOURNAL_SYNC. `process`: each write reaches the operating system before it is
 * acknowledged, so it survives any crash of the dispatcher. `machine`: also synced to the disk
 * (fsync), so it survives a crash of the machine; one sync per batch of writes. `none`: no
 * journal, tasks live in memory only.
 */
export const JOURNAL_SYNC_POLICIES = ['none', 'process', 'machine'] as const;
export type JournalSync = (typeof JOURNAL_SYNC_POLICIES)[number];
