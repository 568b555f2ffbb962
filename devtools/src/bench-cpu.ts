import { readFile } from 'node:fs/promises';

/**
 * CPU time of other processes, from /proc/<pid>/stat (Linux): the bench reads it around a run to
 * show where the time went (dispatcher, workers, the bench client itself).
 */
/** Clock ticks per second of /proc figures; 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

async function processCpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

/** CPU seconds used by each named process between `start()` and `stop()`. */
export class CpuMeter {
  private before = new Map<string, number | null>();

  constructor(private readonly processes: ReadonlyArray<{ name: string; pid: number }>) {}

  async start(): Promise<void> {
    for (const p of this.processes) this.before.set(p.name, await this.read(p.pid));
  }

  async stop(): Promise<Array<{ name: string; cpuSeconds: number | null }>> {
    const out: Array<{ name: string; cpuSeconds: number | null }> = [];
    for (const p of this.processes) {
      const a = this.before.get(p.name) ?? null;
      const b = await this.read(p.pid);
      out.push({ name: p.name, cpuSeconds: a === null || b === null ? null : Math.round((b - a) * 100) / 100 });
    }
    return out;
  }

  private async read(pid: number): Promise<number | null> {
    if (pid === process.pid) {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    }
    return processCpuSeconds(pid);
  }
}
