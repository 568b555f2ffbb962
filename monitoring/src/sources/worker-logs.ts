import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One log line with its time (ms since the epoch). */
export interface LogLine {
  at: number;
  stream: 'stdout' | 'stderr' | null;
  text: string;
}

/** Most lines a "logs around" answer holds (the newest of the window). */
const MAX_AROUND_LINES = 200;

/**
 * A service's lines between `from` and `to` from the runner's log files (`<service>.log` and the
 * rotated `.log.1`, lines `<ms>\t<pid>\t<text>`, see devtools' LogFiles). Missing files are no lines.
 */
export async function runnerLogsAround(
  dir: string,
  service: string,
  from: number,
  to: number,
  pid?: number,
  max = MAX_AROUND_LINES,
): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (const name of [`${service}.log.1`, `${service}.log`]) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      const tab = raw.indexOf('\t');
      if (tab <= 0) continue;
      const at = Number(raw.slice(0, tab));
      if (!Number.isFinite(at) || at < from || at > to) continue;
      // `<ms>\t<pid>\t<text>`: with `pid`, only that process's lines (a restarted worker's are another's).
      const second = raw.indexOf('\t', tab + 1);
      const pidText = second < 0 ? '' : raw.slice(tab + 1, second);
      if (second < 0 || !/^\d*$/.test(pidText)) {
        lines.push({ at, stream: null, text: raw.slice(tab + 1) }); // written before lines had a pid
        continue;
      }
      if (pid !== undefined && pidText !== '' && Number(pidText) !== pid) continue;
      lines.push({ at, stream: null, text: raw.slice(second + 1) });
    }
  }
  return lines.slice(-max);
}

/**
 * Docker's non-follow log answer with timestamps (multiplexed frames unless the container has a
 * TTY) as lines: each begins with an RFC 3339 time and a space.
 */
export function dockerLogLines(raw: Buffer, tty: boolean, max = MAX_AROUND_LINES): LogLine[] {
  const chunks: Array<{ stream: 'stdout' | 'stderr' | null; text: string }> = [];
  if (tty) chunks.push({ stream: null, text: raw.toString('utf8') });
  else {
    let offset = 0;
    while (offset + 8 <= raw.length) {
      const kind = raw[offset];
      const size = raw.readUInt32BE(offset + 4);
      const body = raw.subarray(offset + 8, offset + 8 + size);
      chunks.push({ stream: kind === 2 ? 'stderr' : 'stdout', text: body.toString('utf8') });
      offset += 8 + size;
    }
  }
  const lines: LogLine[] = [];
  for (const chunk of chunks) {
    for (const line of chunk.text.split('\n')) {
      const space = line.indexOf(' ');
      if (space <= 0) continue;
      const at = Date.parse(line.slice(0, space));
      if (Number.isNaN(at)) continue;
      lines.push({ at, stream: chunk.stream, text: line.slice(space + 1) });
    }
  }
  return lines.sort((a, b) => a.at - b.at).slice(-max);
}
