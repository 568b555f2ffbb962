import { Option, type Command } from 'commander';
import { TaskStatus } from '@taskmesh/shared';
import { formatTaskTable } from '../format.js';
import { intOption, type ContextFactory } from './context.js';

export function registerList(program: Command, context: ContextFactory): void {
  program
    .command('list')
    .description('list tasks, newest first')
    .addOption(new Option('--status <status>', 'only tasks with this status').choices(TaskStatus.options))
    .option('--type <type>', 'only tasks of this type')
    .option('--limit <n>', 'at most this many tasks', intOption('--limit', 1, 100_000))
    .option('--json', 'print the task records as JSON')
    .action(async (options: { status?: TaskStatus; type?: string; limit?: number; json?: boolean }) => {
      const ctx = context({});
      const tasks = await ctx.api.list({ status: options.status, type: options.type, limit: options.limit });
      ctx.out(options.json ? JSON.stringify({ tasks }) : formatTaskTable(tasks, ctx.now()));
    });
}
