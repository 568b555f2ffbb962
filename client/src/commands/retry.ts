import type { Command } from 'commander';
import type { ContextFactory } from './context.js';

export function registerRetry(program: Command, context: ContextFactory): void {
  program
    .command('retry')
    .description('run a failed or cancelled task again')
    .argument('<id>', 'task id')
    .option('--json', 'print the id and new status as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const ctx = context({});
      const { status } = await ctx.api.retry(id);
      ctx.out(options.json ? JSON.stringify({ id, status }) : `${id} ${status}`);
    });
}
