import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes JSON so that a reader never sees a half-written file: write a temporary file beside
 * the target, then rename it over (atomic on one file system). Writes are serialised; when
 * several are requested while one is in flight only the newest is written.
 */
export class AtomicJsonWriter {
  private pending: unknown;
  private hasPending = false;
  private running: Promise<void> | undefined;
  private seq = 0;

  constructor(private readonly path: string) {}

  /** Schedules a write of `value`; resolves once it (or a newer value) is on disk. */
  write(value: unknown): Promise<void> {
    this.pending = value;
    this.hasPending = true;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no write is in flight. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    while (this.hasPending) {
      const value = this.pending;
      this.hasPending = false;
      const tmp = `${this.path}.${process.pid}.${++this.seq}.tmp`;
      await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
      await rename(tmp, this.path);
    }
  }
}
