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
    .option('--id <prefix>', 'only tasks whose id starts with this')
    .option('--worker <name>', 'only tasks that ran at this worker')
    .option('--since <ms>', 'only tasks submitted at or after this time (ms since the epoch)', intOption('--since', 0))
    .option('--until <ms>', 'only tasks submitted at or before this time (ms since the epoch)', intOption('--until', 0))
    .option('--limit <n>', 'at most this many tasks', intOption('--limit', 1, 100_000))
    .option('--json', 'print the task records as JSON')
    .action(
      async (options: {
        status?: TaskStatus;
        type?: string;
        id?: string;
        worker?: string;
        since?: number;
        until?: number;
        limit?: number;
        json?: boolean;
      }) => {
        const ctx = context({});
        const { json: _json, ...filter } = options;
        const tasks = await ctx.api.list(filter);
        ctx.out(options.json ? JSON.stringify({ tasks }) : formatTaskTable(tasks, ctx.now()));
      },
    );
}
