import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { MAX_BATCH_TASKS } from '@taskmesh/shared';
import { benchJson, formatBenchReport } from '../bench/report.js';
import { runBench, type BenchPhase } from '../bench/run-bench.js';
import { CliError, EXIT } from '../exit-codes.js';
import { intOption, type ContextFactory } from './context.js';

interface BenchCommandOptions {
  type: string;
  tasks: number;
  batch: number;
  concurrency: number;
  window?: number;
  batchWarmup?: number;
  latencyConcurrency: number;
  sequential: number;
  phase: 'batch' | 'latency' | 'both';
  json?: boolean;
}

export function registerBench(program: Command, context: ContextFactory): void {
  program
    .command('bench')
    .description('measure batch throughput and one-at-a-time submit-and-wait latency')
    .option('--type <type>', 'task type (payload {text})', 'reverse')
    .option('--tasks <n>', 'batch phase: tasks in total', intOption('--tasks', 0), 50_000)
    .option('--batch <k>', `batch phase: tasks per request (at most ${MAX_BATCH_TASKS})`, intOption('--batch', 1, MAX_BATCH_TASKS), 500)
    .option('--concurrency <c>', 'batch phase: requests in flight', intOption('--concurrency', 1, 1024), 4)
    .option(
      '--window <w>',
      'batch phase: most tasks outstanding (sent, not yet ended); default batch × concurrency',
      intOption('--window', 1),
    )
    .option(
      '--batch-warmup <n>',
      'batch phase: untimed tasks first; default a fifth of --tasks, at most 10000',
      intOption('--batch-warmup', 0),
    )
    .option(
      '--latency-concurrency <c>',
      'latency phase: concurrent submit-and-wait loops (1: one task at a time)',
      intOption('--latency-concurrency', 1, 1024),
      1,
    )
    .option('--sequential <n>', 'latency phase: tasks submitted one at a time', intOption('--sequential', 0), 5000)
    .addOption(new Option('--phase <phase>', 'which phase to run').choices(['batch', 'latency', 'both']).default('both'))
    .option('--json', 'print only the JSON report')
    .action(async (options: BenchCommandOptions) => {
      // The load loops run on undici, so the figures are the dispatcher's, not axios's.
      const ctx = context({ maxSockets: Math.max(options.concurrency, options.latencyConcurrency) + 2, backend: 'undici' });
      const phases: BenchPhase[] = options.phase === 'both' ? ['batch', 'latency'] : [options.phase];
      const bar =
        ctx.isTTY && !options.json
          ? new cliProgress.SingleBar(
              { format: '{phase} [{bar}] {value}/{total}', stream: process.stderr, hideCursor: true },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      let current: BenchPhase | undefined;
      const report = await runBench({
        api: ctx.api,
        type: options.type,
        phases,
        tasks: options.tasks,
        batchSize: options.batch,
        concurrency: options.concurrency,
        window: options.window,
        batchWarmup: options.batchWarmup,
        latencyConcurrency: options.latencyConcurrency,
        sequential: options.sequential,
        onProgress: (phase, done, total) => {
          if (!bar) return;
          if (phase !== current) {
            if (current) bar.stop();
            current = phase;
            bar.start(total, done, { phase: phase.padEnd(7) });
          } else bar.update(done);
        },
      }).finally(() => bar?.stop());
      if (!options.json) ctx.out(formatBenchReport(report));
      ctx.out(benchJson(report));
      if (report.failures > 0) throw new CliError(EXIT.TASK_FAILED, `${report.failures} bench tasks did not succeed`);
    });
}
