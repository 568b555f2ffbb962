import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskRecord, delay } from '@taskmesh/shared';
import { startRunner } from '@taskmesh/shared/testing';

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

export async function measureFailover(options: { kills: number; runMs?: number; log?: (line: string) => void }): Promise<FailoverReport> {
  const runMs = options.runMs ?? 300;
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-failover-'));
  const runner = await startRunner({
    dir,
    workers: { wait: { replicas: 3, concurrency: 1 } },
    env: { TASKMESH_LOG_LEVEL: 'warn' },
    stderr: 'inherit',
  });
  const api = runner.urls.dispatcher;
  const json = async (url: string, init?: RequestInit): Promise<unknown> => (await fetch(url, init)).json();
  try {
    await runner.ready;
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
      const { worker } = (await json(`${runner.urls.nameservice}/v1/workers/${holder}`)) as { worker: { pid: number } };
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
    await runner.stop();
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
