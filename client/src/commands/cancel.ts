import { Option, type Command } from 'commander';
import type { TaskStatus } from '@taskmesh/shared';
import { usageError } from '../exit-codes.js';
import type { ContextFactory } from './context.js';
import { bulkLine } from './retry.js';

export function registerCancel(program: Command, context: ContextFactory): void {
  program
    .command('cancel')
    .description('cancel a queued or running task; with --status, every task that matches')
    .argument('[id]', 'task id')
    .addOption(new Option('--status <status>', 'cancel every task with this status (queued or running)').choices(['queued', 'running']))
    .option('--type <type>', 'with --status: only tasks of this type')
    .option('--worker <name>', 'with --status: only tasks at this worker')
    .option('--json', 'print the task record (or the counts) as JSON')
    .action(async (id: string | undefined, options: { status?: TaskStatus; type?: string; worker?: string; json?: boolean }) => {
      const ctx = context({});
      if (id === undefined && options.status === undefined) throw usageError('cancel: give a task id, or --status queued|running for many');
      if (id !== undefined && options.status !== undefined) throw usageError('cancel: a task id or --status, not both');
      if (id !== undefined) {
        const record = await ctx.api.cancel(id);
        ctx.out(options.json ? JSON.stringify(record) : `${record.id} ${record.status}`);
        return;
      }
      const answer = await ctx.api.bulk('cancel', { status: options.status!, type: options.type, worker: options.worker });
      ctx.out(options.json ? JSON.stringify(answer) : bulkLine('cancelled', answer));
    });
}
