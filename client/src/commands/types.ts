import type { Command } from 'commander';
import { formatTypesTable } from '../format.js';
import type { ContextFactory } from './context.js';

export function registerTypes(program: Command, context: ContextFactory): void {
  program
    .command('types')
    .description('list the task types the dispatcher accepts: built-in and your own, with their workers and load')
    .option('--json', 'print the types with their payload schemas as JSON')
    .action(async (options: { json?: boolean }) => {
      const ctx = context({});
      const types = await ctx.api.types();
      ctx.out(options.json ? JSON.stringify({ types }) : formatTypesTable(types));
    });
}
