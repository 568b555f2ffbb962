import type { Command } from 'commander';
import { TaskEventKind } from '@taskmesh/shared';
import { EventStream } from '../event-stream.js';
import { CliError, EXIT } from '../exit-codes.js';
import { formatEvent } from '../format.js';
import { intOption, type ContextFactory } from './context.js';

export function registerWatch(program: Command, context: ContextFactory): void {
  program
    .command('watch')
    .description('print task events live, one line each, until Ctrl-C')
    .option('--type <type>', 'only events of this task type')
    .option('--task <id>', 'only events of this task')
    .option('--events <kinds>', `only these kinds of events, comma-separated (${TaskEventKind.options.join(', ')})`)
    .option('--count <n>', 'stop after this many events', intOption('--count', 1))
    .option('--json', 'print each event as a JSON line')
    .action(async (options: { type?: string; task?: string; events?: string; count?: number; json?: boolean }) => {
      const ctx = context({});
      const kinds = options.events?.split(',').map((k) => k.trim());
      const unknown = kinds?.filter((k) => !TaskEventKind.safeParse(k).success) ?? [];
      if (unknown.length > 0)
        throw new CliError(EXIT.USAGE, `--events: unknown kind ${unknown.join(', ')}; known: ${TaskEventKind.options.join(', ')}`);
      // A dispatcher that restarts is followed: the stream resumes after the last event printed.
      const stream = await EventStream.open({
        baseUrl: ctx.api.baseUrl,
        token: ctx.api.token,
        type: options.type,
        taskId: options.task,
        events: kinds as TaskEventKind[] | undefined,
        resume: true,
      });
      stream.onGap(() =>
        ctx.err('some events were missed (the dispatcher no longer has them); `taskmesh list` shows the tasks as they are'),
      );
      // Tests and scripts wait for this line on stderr before they cause events.
      ctx.err(
        `watching events${options.type ? ` of type ${options.type}` : ''}${options.task ? ` of task ${options.task}` : ''} (Ctrl-C to stop)`,
      );
      let seen = 0;
      stream.onEvent((e) => {
        if (options.count !== undefined && seen >= options.count) return;
        seen++;
        ctx.out(options.json ? JSON.stringify(e) : formatEvent(e));
        if (seen === options.count) void stream.close();
      });
      const onAbort = (): void => void stream.close();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const failure = await stream.closed;
      ctx.signal.removeEventListener('abort', onAbort);
      const done = ctx.signal.aborted || (options.count !== undefined && seen >= options.count);
      if (!done) throw failure ?? new CliError(EXIT.UNAVAILABLE, `the dispatcher at ${ctx.api.baseUrl} closed the event stream`);
    });
}
