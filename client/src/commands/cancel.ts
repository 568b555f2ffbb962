import type { Command } from 'commander';
import type { ContextFactory } from './context.js';

export function registerCancel(program: Command, context: ContextFactory): void {
  program
    .command('cancel')
    .description('cancel a queued or running task')
    .argument('<id>', 'task id')
    .option('--json', 'print the task record as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const ctx = context({});
      const record = await ctx.api.cancel(id);
      ctx.out(options.json ? JSON.stringify(record) : `${record.id} ${record.status}`);
    });
}
