import { Option, type Command } from 'commander';
import { TaskStatus } from '@taskmesh/shared';
import { usageError } from '../exit-codes.js';
import type { ContextFactory } from './context.js';

export function registerRetry(program: Command, context: ContextFactory): void {
  program
    .command('retry')
    .description('run a failed or cancelled task again; with --status, every task that matches')
    .argument('[id]', 'task id')
    .addOption(new Option('--status <status>', 'retry every task with this status (failed or cancelled)').choices(['failed', 'cancelled']))
    .option('--type <type>', 'with --status: only tasks of this type')
    .option('--worker <name>', 'with --status: only tasks that ran at this worker')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string | undefined, options: { status?: TaskStatus; type?: string; worker?: string; json?: boolean }) => {
      const ctx = context({});
      if (id === undefined && options.status === undefined)
        throw usageError('retry: give a task id, or --status failed|cancelled for many');
      if (id !== undefined && options.status !== undefined) throw usageError('retry: a task id or --status, not both');
      if (id !== undefined) {
        const { status } = await ctx.api.retry(id);
        ctx.out(options.json ? JSON.stringify({ id, status }) : `${id} ${status}`);
        return;
      }
      const answer = await ctx.api.bulk('retry', { status: options.status!, type: options.type, worker: options.worker });
      ctx.out(options.json ? JSON.stringify(answer) : bulkLine('retried', answer));
    });
}

/** `retried 12 of 12 matching tasks` (and why the rest were not). */
export function bulkLine(done: string, answer: { matched: number; changed: number; refused: Record<string, number> }): string {
  const refused = Object.entries(answer.refused).map(([code, n]) => `${n} ${code}`);
  return `${done} ${answer.changed} of ${answer.matched} matching tasks${refused.length > 0 ? ` (not: ${refused.join(', ')})` : ''}`;
}
