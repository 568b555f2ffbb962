import { createWriteStream, mkdirSync, renameSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';

/**
 * The runner's log files: every line a service prints, as `<ms since the epoch>\t<pid>\t<line>`
 * (the pid of the process that printed it, empty if none), in `<dir>/<service>.log`, so the
 * dashboard can show a worker process's lines around a moment (a task's page), not those of the
 * process that replaced it. Bounded: past `maxBytes` a file becomes `<service>.log.1` (the one
 * before is dropped).
 */
const DEFAULT_LOG_FILE_BYTES = 2 * 1024 * 1024;

export class LogFiles {
  private readonly files = new Map<string, { stream: WriteStream; bytes: number }>();

  constructor(
    private readonly dir: string,
    private readonly maxBytes = DEFAULT_LOG_FILE_BYTES,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  write(service: string, line: string, pid: number | null, at = Date.now()): void {
    let file = this.files.get(service);
    if (file === undefined) file = this.open(service);
    const text = `${at}\t${pid ?? ''}\t${line}\n`;
    const bytes = Buffer.byteLength(text);
    if (file.bytes > 0 && file.bytes + bytes > this.maxBytes) {
      file.stream.end();
      renameSync(this.path(service), `${this.path(service)}.1`);
      file = this.open(service, true);
    }
    file.stream.write(text);
    file.bytes += bytes;
  }

  close(): Promise<void> {
    const ends = [...this.files.values()].map((f) => new Promise<void>((resolve) => f.stream.end(resolve)));
    this.files.clear();
    return Promise.all(ends).then(() => undefined);
  }

  private path(service: string): string {
    return join(this.dir, `${service}.log`);
  }

  private open(service: string, fresh = false): { stream: WriteStream; bytes: number } {
    let bytes = 0;
    if (!fresh) {
      try {
        bytes = statSync(this.path(service)).size;
      } catch {
        // not there yet
      }
    }
    const file = { stream: createWriteStream(this.path(service), { flags: fresh ? 'w' : 'a' }), bytes };
    file.stream.on('error', () => undefined);
    this.files.set(service, file);
    return file;
  }
}
