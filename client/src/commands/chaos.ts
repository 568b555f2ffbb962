import { InvalidArgumentError, type Command } from 'commander';
import { ChaosAction, MAX_CHAOS_FOR_MS } from '@taskmesh/shared';
import { usageError } from '../exit-codes.js';
import type { ContextFactory } from './context.js';

/** `30s`, `1500ms`, `2m` or a bare number of milliseconds. */
function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new InvalidArgumentError(`"${text}" is not a duration: give e.g. 30s, 1500ms or 2m`);
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
  if (ms < 100 || ms > MAX_CHAOS_FOR_MS)
    throw new InvalidArgumentError(`"${text}" is out of range: from 100ms to ${MAX_CHAOS_FOR_MS / 60_000}m`);
  return ms;
}

function parsePercent(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new InvalidArgumentError(`"${text}" is not a whole percent from 0 to 100`);
  return n;
}

export function registerChaos(program: Command, context: ContextFactory): void {
  program
    .command('chaos')
    .description(
      'break a worker on purpose (the dispatcher needs TASKMESH_CHAOS=1): kill it, pause and resume it, or drop a share of its datagrams; pauses and losses end by themselves',
    )
    .argument('<action>', 'kill, pause, resume or loss')
    .argument('[worker]', "the worker's name (taskmesh workers lists them); without one, what is in force now")
    .option('--percent <n>', 'loss: the share of datagrams dropped each way (0 ends a loss)', parsePercent)
    .option('--for <duration>', 'pause and loss: how long (e.g. 30s; default 30s)', parseDuration)
    .option('--json', 'print the answer as JSON')
    .action(async (action: string, worker: string | undefined, options: { percent?: number; for?: number; json?: boolean }) => {
      const ctx = context({});
      if (action === 'status') {
        const status = await ctx.api.chaosStatus();
        if (options.json) return ctx.out(JSON.stringify(status));
        ctx.out(
          `chaos controls ${status.enabled ? 'on' : 'off'}${status.supervisor === null ? '' : `, processes by the ${status.supervisor}`}`,
        );
        for (const f of status.faults)
          ctx.out(
            `${f.kind} ${f.worker}${f.percent === null ? '' : ` ${f.percent}%`} until ${new Date(f.until).toISOString()}${f.kind === 'loss' ? `, ${f.dropped} dropped` : ''}`,
          );
        return;
      }
      const parsed = ChaosAction.safeParse(action);
      if (!parsed.success) throw usageError(`chaos: "${action}" is not kill, pause, resume, loss or status`);
      if (worker === undefined) throw usageError(`chaos ${action}: name the worker (taskmesh workers lists them)`);
      if (parsed.data === 'loss' && options.percent === undefined)
        throw usageError('chaos loss: give --percent N (1 to 100; 0 ends a loss)');
      if (parsed.data !== 'loss' && options.percent !== undefined) throw usageError(`chaos ${action}: --percent is for loss only`);
      const answer = await ctx.api.chaos(parsed.data, { worker, percent: options.percent, forMs: options.for });
      ctx.out(
        options.json
          ? JSON.stringify(answer)
          : `${answer.done}${answer.until === null ? '' : ` until ${new Date(answer.until).toISOString()}`}`,
      );
    });
}
