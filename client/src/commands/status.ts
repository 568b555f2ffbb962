import type { Command } from 'commander';
import { formatTaskRecord } from '../format.js';
import type { ContextFactory } from './context.js';

export function registerStatus(program: Command, context: ContextFactory): void {
  program
    .command('status')
    .description('show a task: status, attempts, worker, result or error')
    .argument('<id>', 'task id')
    .option('--json', 'print the task record as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const ctx = context({});
      const record = await ctx.api.getTask(id);
      ctx.out(options.json ? JSON.stringify(record) : formatTaskRecord(record, ctx.now()));
    });
}
