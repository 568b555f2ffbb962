import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { summarize, type LatencySummary } from '@taskmesh/client';

const CHILD = fileURLToPath(new URL('./bench-floor-child.js', import.meta.url));
const START_TIMEOUT_MS = 10_000;

export interface FloorReport {
  requests: number;
  latencyMs: LatencySummary;
}

/**
 * The host's floor for one submit-and-wait: the path of a task with no work on it. One at a time,
 * a POST with a task's JSON body goes to a bare node:http process, which relays the payload in a
 * UDP datagram to a second process and back, answers with JSON, then sends that process one more
 * datagram (as the dispatcher acknowledges a result): the same four wake-ups and five messages,
 * none of taskmesh's work (authentication, validation, records, events). The bench prints it beside
 * its latency figures: what the machine costs before taskmesh does anything.
 */
export async function measureFloor(options: { requests: number; warmup?: number }): Promise<FloorReport> {
  const children: ChildProcess[] = [];
  let pool: Pool | undefined;
  try {
    const echo = await start(children, ['echo']);
    const relay = await start(children, ['relay', String(echo)]);
    pool = new Pool(`http://127.0.0.1:${relay}`, { connections: 1 });
    const one = async (i: number): Promise<void> => {
      const res = await pool!.request({
        method: 'POST',
        path: '/v1/tasks?wait=10000',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'reverse', payload: { text: `bench-${i}` } }),
      });
      const body = (await res.body.json()) as { result?: unknown };
      if (res.statusCode !== 200 || body.result !== `bench-${i}`)
        throw new Error(`host floor: unexpected answer ${res.statusCode} ${JSON.stringify(body)}`);
    };
    for (let i = 0; i < (options.warmup ?? Math.min(500, Math.ceil(options.requests / 4))); i++) await one(i);
    const samples: number[] = [];
    for (let i = 0; i < options.requests; i++) {
      const t0 = process.hrtime.bigint();
      await one(i);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { requests: samples.length, latencyMs: summarize(samples) };
  } finally {
    await pool?.close();
    await Promise.all(children.map(stop));
  }
}

/** Forks a floor process and resolves with the port it reports. */
async function start(children: ChildProcess[], args: string[]): Promise<number> {
  const child = fork(CHILD, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.push(child);
  const timer = setTimeout(() => child.kill(), START_TIMEOUT_MS);
  try {
    const [port] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => [undefined])])) as [unknown];
    if (typeof port !== 'number') throw new Error(`host floor: the ${args[0]} process did not start`);
    return port;
  } finally {
    clearTimeout(timer);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  // A child whose channel already closed is on its way out, or stuck: it gets a signal instead.
  if (child.connected) child.disconnect();
  else child.kill();
  await exited;
}
