import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RegistryFile, type Logger, type WorkerRecord } from '@taskmesh/shared';

/**
 * The registry file on disk. Every write is atomic (temp file, fsync, rename, fsync of the
 * directory), so a crash leaves either the old or the new file, never half of one. Before each
 * write the previous generation is written to `<file>.bak`, so a file damaged by something else
 * (a full disk, a hand edit) still has a last-good copy to fall back to.
 */

export type LoadSource = 'file' | 'backup' | 'empty';

export interface LoadResult {
  workers: WorkerRecord[];
  source: LoadSource;
}

let tempCounter = 0;

export class RegistryStore {
  readonly path: string;
  readonly backupPath: string;
  /** Where a damaged file is moved so the next write cannot destroy the evidence. */
  readonly corruptPath: string;
  private readonly logger: Logger;
  /** The text of the last good generation (loaded or written): it becomes the next `.bak`. */
  private lastGood: string | undefined;

  constructor(options: { path: string; logger: Logger }) {
    this.path = options.path;
    this.backupPath = `${options.path}.bak`;
    this.corruptPath = `${options.path}.corrupt`;
    this.logger = options.logger;
  }

  /**
   * Reads the registry. A missing file is a first start; a damaged one is logged on one line,
   * moved aside to `.corrupt`, and the `.bak` (or else an empty registry) is used instead.
   */
  async load(): Promise<LoadResult> {
    await mkdir(dirname(this.path), { recursive: true });
    await this.removeStaleTempFiles();
    const main = await readRegistry(this.path);
    if (main.ok) {
      this.lastGood = main.text;
      return { workers: main.file.workers, source: 'file' };
    }
    if (main.reason === 'missing') {
      const backup = await readRegistry(this.backupPath);
      if (!backup.ok) return { workers: [], source: 'empty' };
      // Only a hand-deleted file gets here: writes always leave the main file in place.
      this.lastGood = backup.text;
      this.logger.warn(`registry file ${this.path} is missing; using its backup`, {
        event: 'registry-fallback',
        file: this.path,
        fallback: 'backup',
      });
      return { workers: backup.file.workers, source: 'backup' };
    }
    await rename(this.path, this.corruptPath).catch(() => undefined);
    const backup = await readRegistry(this.backupPath);
    const fallback: LoadSource = backup.ok ? 'backup' : 'empty';
    const backupNote = backup.ok
      ? `using ${this.backupPath}`
      : `backup ${backup.reason === 'missing' ? 'missing' : `also unreadable (${backup.detail})`}, starting empty`;
    this.logger.error(`registry file ${this.path} is unreadable (${main.detail}); moved to ${this.corruptPath}; ${backupNote}`, {
      event: 'registry-corrupt',
      file: this.path,
      fallback,
    });
    if (!backup.ok) return { workers: [], source: 'empty' };
    this.lastGood = backup.text;
    return { workers: backup.file.workers, source: 'backup' };
  }

  /** Writes the registry atomically, keeping the previous generation as `.bak`. */
  async save(workers: readonly WorkerRecord[], savedAt: number): Promise<void> {
    const file: RegistryFile = { version: 1, savedAt, workers: [...workers] };
    const text = `${JSON.stringify(file, null, 2)}\n`;
    if (this.lastGood !== undefined) await writeFileAtomic(this.backupPath, this.lastGood);
    await writeFileAtomic(this.path, text);
    await fsyncDirectory(dirname(this.path));
    this.lastGood = text;
  }

  /** Temp files are only left by a crash mid-write; they are never the newest good state. */
  private async removeStaleTempFiles(): Promise<void> {
    const prefix = `${basename(this.path)}.`;
    const names = await readdir(dirname(this.path)).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dirname(this.path), name)).catch(() => undefined);
    }
  }
}

type ReadResult = { ok: true; file: RegistryFile; text: string } | { ok: false; reason: 'missing' | 'unreadable'; detail: string };

/** Reads and validates one registry file; the version is checked before the rest. */
async function readRegistry(path: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, reason: 'missing', detail: 'no such file' };
    return { ok: false, reason: 'unreadable', detail: (err as Error).message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'unreadable', detail: text.trim() === '' ? 'empty file' : `not JSON: ${(err as Error).message}` };
  }
  const version = typeof json === 'object' && json !== null ? (json as { version?: unknown }).version : undefined;
  if (version !== 1)
    return { ok: false, reason: 'unreadable', detail: `unsupported version ${JSON.stringify(version) ?? 'undefined'}, expected 1` };
  const parsed = RegistryFile.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.join('.') : '(root)';
    return { ok: false, reason: 'unreadable', detail: `schema: ${where}: ${first?.message ?? 'invalid'}` };
  }
  return { ok: true, file: parsed.data, text };
}

/** Temp file in the same directory, fsync, rename over the target; the temp never outlives a failure. */
async function writeFileAtomic(path: string, text: string): Promise<void> {
  tempCounter += 1;
  const temp = `${path}.${process.pid}.${tempCounter}.tmp`;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Makes the renames durable; some platforms cannot open a directory, which is not an error there. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}
