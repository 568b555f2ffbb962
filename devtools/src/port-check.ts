import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port the runner needs that is taken, and who holds it when that can be told. */
export interface TakenPort {
  service: string;
  port: number;
  holder: { pid: number; command: string } | null;
}

/** Which of `ports` cannot be listened on at `host` (EADDRINUSE), with the holding process where /proc tells it. */
export async function takenPorts(host: string, ports: Record<string, number>): Promise<TakenPort[]> {
  const taken: TakenPort[] = [];
  for (const [service, port] of Object.entries(ports)) {
    if (await isFree(host, port)) continue;
    taken.push({ service, port, holder: holderOf(port) });
  }
  return taken;
}

/** One line per taken port, saying what to do. */
export function describeTaken(taken: TakenPort, variable: string): string {
  const who = taken.holder === null ? 'another process' : `pid ${taken.holder.pid} (${taken.holder.command})`;
  return `port ${taken.port} (${taken.service}) is already in use by ${who}: stop it, or choose another port with ${variable}`;
}

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The process listening on TCP `port` (Linux /proc; null elsewhere or when it cannot be read). */
function holderOf(port: number): { pid: number; command: string } | null {
  try {
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const local = fields[1];
        // State 0A is LISTEN; the local address ends with the port in hex.
        if (local === undefined || fields[3] !== '0A' || Number.parseInt(local.split(':').at(-1) ?? '', 16) !== port) continue;
        if (fields[9] !== undefined) inodes.add(fields[9]);
      }
    }
    if (inodes.size === 0) return null;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${entry}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let target: string;
        try {
          target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode === undefined || !inodes.has(inode)) continue;
        const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
        return { pid: Number(entry), command: command.slice(0, 120) };
      }
    }
  } catch {
    // Not Linux, or /proc is not readable: the port alone is named.
  }
  return null;
}
