import type { Command } from 'commander';
import { formatWorkersTable } from '../format.js';
import type { ContextFactory } from './context.js';

export function registerWorkers(program: Command, context: ContextFactory): void {
  program
    .command('workers')
    .description('list the workers the dispatcher knows, with their load')
    .option('--json', 'print the worker records as JSON')
    .action(async (options: { json?: boolean }) => {
      const ctx = context({});
      const workers = await ctx.api.workers();
      ctx.out(options.json ? JSON.stringify({ workers }) : formatWorkersTable(workers, ctx.now()));
    });
}
