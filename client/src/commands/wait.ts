import type { Command } from 'commander';
import { waitForTask } from '../task-waiter.js';
import { intOption, type ContextFactory } from './context.js';
import { reportOutcome } from './outcome.js';

export function registerWait(program: Command, context: ContextFactory): void {
  program
    .command('wait')
    .description('wait until a task ends and print its result (like submit --wait)')
    .argument('<id>', 'task id')
    .option('--timeout <ms>', 'give up waiting after this many milliseconds (exit 3)', intOption('--timeout', 1))
    .option('--json', 'print the final task record as JSON')
    .option('--out <file>', 'image: write the decoded image here')
    .action(async (id: string, options: { timeout?: number; json?: boolean; out?: string }) => {
      const ctx = context({});
      const record = await waitForTask(ctx.api, id, { timeoutMs: options.timeout, signal: ctx.signal });
      await reportOutcome(ctx, record, options);
    });
}
