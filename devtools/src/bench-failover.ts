import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TaskRecord, delay } from '@taskmesh/shared';
import { freePort } from './test-support.js';

/**
 * The failover bound, measured: the real runner (`npm start`) with three wait workers; a task is
 * submitted, its worker SIGKILLed while it runs, and the time from the kill to the task's end,
 * less the task's own run time, is what failover cost. Each kill is one sample.
 */
export interface FailoverReport {
  samples: number;
  runMs: number;
  /** Kill to end, less runMs, per sample (ms). */
  overheadMs: number[];
  p50Ms: number;
  maxMs: number;
}

const RUNNER = fileURLToPath(new URL('./runner-main.js', import.meta.url));

export async function measureFailover(options: { kills: number; runMs?: number; log?: (line: string) => void }): Promise<FailoverReport> {
  const runMs = options.runMs ?? 300;
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-failover-'));
  const workersFile = join(dir, 'workers.json');
  await writeFile(workersFile, JSON.stringify({ workers: { wait: { replicas: 3, concurrency: 1 } } }));
  const [ns, dp, mon] = [await freePort(), await freePort(), await freePort()];
  const runner = spawn(process.execPath, [RUNNER], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      TASKMESH_SECRET: '',
      TASKMESH_LOG_LEVEL: 'warn',
      TASKMESH_NAMESERVICE_PORT: String(ns),
      TASKMESH_DISPATCHER_PORT: String(dp),
      TASKMESH_MONITORING_PORT: String(mon),
      TASKMESH_WORKERS_FILE: workersFile,
      TASKMESH_RUNNER_STATE_FILE: join(dir, 'state.json'),
      TASKMESH_REGISTRY_FILE: join(dir, 'registry.json'),
      TASKMESH_JOURNAL_PATH: join(dir, 'journal'),
    },
  });
  const api = `http://127.0.0.1:${dp}`;
  const json = async (url: string, init?: RequestInit): Promise<unknown> => (await fetch(url, init)).json();
  try {
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: runner.stdout });
      lines.on('line', (l) => {
        if (/all \d+ services ready/.test(l)) resolve();
      });
      runner.once('exit', (code) => reject(new Error(`the runner exited (${code}) before its services were ready`)));
    });
    const overheadMs: number[] = [];
    for (let i = 0; i < options.kills; i++) {
      // At least two live workers: the task has somewhere to go when its own is killed.
      await until(
        async () =>
          ((await json(`${api}/v1/workers`)) as { workers: Array<{ state: string }> }).workers.filter((w) => w.state === 'live').length >=
          2,
        30_000,
      );
      const { id } = (await json(`${api}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'wait', payload: { ms: runMs } }),
      })) as { id: string };
      let holder = '';
      await until(async () => {
        const task = TaskRecord.parse(await json(`${api}/v1/tasks/${id}`));
        holder = task.status === 'running' ? (task.worker ?? '') : '';
        return holder !== '';
      }, 10_000);
      const { worker } = (await json(`http://127.0.0.1:${ns}/v1/workers/${holder}`)) as { worker: { pid: number } };
      const killedAt = Date.now();
      process.kill(worker.pid, 'SIGKILL');
      const done = TaskRecord.parse(await json(`${api}/v1/tasks/${id}?wait=20000`));
      if (done.status !== 'succeeded') throw new Error(`task ${id} ended ${done.status} after its worker was killed`);
      overheadMs.push(Math.max(0, done.finishedAt! - killedAt - runMs));
      options.log?.(`bench: failover ${i + 1}/${options.kills}: ${overheadMs.at(-1)} ms past the task's own run time`);
    }
    const sorted = [...overheadMs].sort((a, b) => a - b);
    return {
      samples: sorted.length,
      runMs,
      overheadMs,
      p50Ms: sorted[Math.floor((sorted.length - 1) / 2)] ?? 0,
      maxMs: sorted.at(-1) ?? 0,
    };
  } finally {
    if (runner.exitCode === null) {
      runner.kill('SIGTERM');
      await once(runner, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** The figures as the report's lines. */
export function formatFailover(r: FailoverReport): string {
  return [
    `failover: a worker SIGKILLed mid-task under npm start, ${r.samples} kills, ${r.runMs} ms tasks`,
    `  kill to the task's end, less its run time: p50 ${r.p50Ms} ms, max ${r.maxMs} ms (target < 1000 ms)`,
    `  samples: ${r.overheadMs.join(', ')} ms`,
  ].join('\n');
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await delay(20);
  }
}
