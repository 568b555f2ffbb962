import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { MAX_BATCH_TASKS, TaskmeshError, type SubmitTaskRequest, type TaskStatus, describeUnknown } from '@taskmesh/shared';
import { submitBatchWithBackpressure } from '../backpressure.js';
import { chunk, mapConcurrent, parseBatchFile } from '../batch-file.js';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import { formatBatchSummary } from '../format.js';
import { CompletionTracker } from '../task-waiter.js';
import { intOption, type CliContext, type ContextFactory } from './context.js';

/** Batch requests in flight at once. */
const BATCH_CONCURRENCY = 4;
/** Bad lines named in the one-line error before "and N more". */
const MAX_LINES_NAMED = 5;

interface BatchOptions {
  wait?: boolean;
  json?: boolean;
  chunkSize?: number;
  timeout?: number;
}

export function registerBatch(program: Command, context: ContextFactory): void {
  program
    .command('batch')
    .description('submit every task of a JSON-lines file ({type, payload, ...} per line)')
    .argument('<file>', 'a .jsonl file; blank lines and # comments are skipped')
    .option('-w, --wait', 'wait until every task has ended; exit 1 if any did not succeed')
    .option(
      '--chunk-size <n>',
      `tasks per request (at most ${MAX_BATCH_TASKS})`,
      intOption('--chunk-size', 1, MAX_BATCH_TASKS),
      MAX_BATCH_TASKS,
    )
    .option('--timeout <ms>', 'with --wait: give up waiting after this many milliseconds (exit 3)', intOption('--timeout', 1))
    .option('--json', 'print the summary (and ids) as JSON')
    .action(async (file: string, options: BatchOptions) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const parsed = parseBatchFile(text);
      if (parsed.errors.length > 0) {
        const named = parsed.errors
          .slice(0, MAX_LINES_NAMED)
          .map((e) => `line ${e.line}: ${e.message}`)
          .join('; ');
        const more = parsed.errors.length > MAX_LINES_NAMED ? `; and ${parsed.errors.length - MAX_LINES_NAMED} more` : '';
        throw usageError(
          `${file}: ${parsed.errors.length} bad line${parsed.errors.length === 1 ? '' : 's'}, nothing sent: ${named}${more}`,
        );
      }
      if (parsed.tasks.length === 0) throw usageError(`${file}: no tasks in the file`);
      await runBatch(context({ maxSockets: BATCH_CONCURRENCY + 2 }), parsed.tasks, parsed.lines, options);
    });
}

async function runBatch(ctx: CliContext, tasks: SubmitTaskRequest[], lines: number[], options: BatchOptions): Promise<void> {
  const started = performance.now();
  const tracker = options.wait ? new CompletionTracker(ctx.api) : undefined;
  // Subscribed before the first submission, so no task can end unseen.
  await tracker?.start();
  const bar =
    ctx.isTTY && !options.json
      ? new cliProgress.SingleBar(
          { format: '{phase} [{bar}] {value}/{total} {percentage}%', stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  try {
    bar?.start(tasks.length, 0, { phase: 'submitted' });
    const chunks = chunk(tasks, options.chunkSize ?? MAX_BATCH_TASKS);
    let sent = 0;
    let failure: unknown;
    const ids = await mapConcurrent(chunks, BATCH_CONCURRENCY, async (tasksOfChunk, index) => {
      if (failure !== undefined) return [];
      try {
        const got = await submitBatchWithBackpressure(ctx.api, tasksOfChunk, { signal: ctx.signal });
        sent += got.length;
        bar?.update(sent);
        return got;
      } catch (err) {
        const firstLine = lines[index * (options.chunkSize ?? MAX_BATCH_TASKS)];
        failure ??=
          err instanceof TaskmeshError
            ? Object.assign(err, { message: `the chunk from line ${firstLine} was refused: ${err.message}` })
            : err;
        return [];
      }
    });
    const allIds = ids.flat();
    if (failure !== undefined) {
      if (allIds.length > 0) ctx.err(`${allIds.length} of ${tasks.length} tasks were submitted before the error`);
      throw failure instanceof Error ? failure : new Error(describeUnknown(failure));
    }
    let finals: Map<string, TaskStatus> | undefined;
    if (tracker) {
      bar?.update(0, { phase: 'finished ' });
      finals = await tracker.waitFor(allIds, { timeoutMs: options.timeout, signal: ctx.signal, onProgress: (done) => bar?.update(done) });
    }
    bar?.stop();
    const count = (s: TaskStatus): number => (finals ? [...finals.values()].filter((v) => v === s).length : 0);
    const summary = {
      submitted: allIds.length,
      ...(finals ? { succeeded: count('succeeded'), failed: count('failed'), cancelled: count('cancelled') } : {}),
      seconds: (performance.now() - started) / 1000,
    };
    ctx.out(options.json ? JSON.stringify({ ...summary, ids: allIds }) : formatBatchSummary(summary));
    const unsuccessful = (summary.failed ?? 0) + (summary.cancelled ?? 0);
    if (unsuccessful > 0) throw new CliError(EXIT.TASK_FAILED, `${unsuccessful} of ${allIds.length} tasks did not succeed`);
  } finally {
    bar?.stop();
    await tracker?.close();
  }
}
