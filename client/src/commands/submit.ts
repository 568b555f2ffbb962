import { Command, Option } from 'commander';
import { formatTraceparent, isFinalStatus, randomSpanId, randomTraceId, SubmitTaskRequest } from '@taskmesh/shared';
import { usageError } from '../exit-codes.js';
import { parsePayload, SHORTHANDS, type PayloadOptions } from '../payload.js';
import { waitForTask } from '../task-waiter.js';
import { intOption, type ContextFactory } from './context.js';
import { reportOutcome } from './outcome.js';

/** How long one long-poll `POST /v1/tasks?wait=` holds; a longer task is then followed by events. */
const SUBMIT_WAIT_MS = 25_000;

interface SubmitOptions extends PayloadOptions {
  wait?: boolean;
  timeout?: number;
  json?: boolean;
  maxAttempts?: number;
  idempotencyKey?: string;
  out?: string;
  trace?: boolean;
}

/** Builds the request body from the command line; a usage error names what is wrong. */
function buildSubmitRequest(type: string, args: readonly string[], options: SubmitOptions): SubmitTaskRequest {
  const { algorithm, encoding, width, height, text, format } = options;
  const payload = parsePayload(type, args, { algorithm, encoding, width, height, text, format });
  const request: SubmitTaskRequest = { type, payload };
  if (options.timeout !== undefined) request.timeoutMs = options.timeout;
  if (options.maxAttempts !== undefined) request.maxAttempts = options.maxAttempts;
  if (options.idempotencyKey !== undefined) request.idempotencyKey = options.idempotencyKey;
  const checked = SubmitTaskRequest.safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw usageError(`${issue.path.join('.') || 'task'}: ${issue.message}`);
  }
  return request;
}

export function registerSubmit(program: Command, context: ContextFactory): void {
  program
    .command('submit')
    .description('submit a task; prints its id, or with --wait its result')
    .argument('<type>', 'task type: reverse, upper, hash, sum, wait, image, …')
    .argument('[payload...]', "a JSON object, or the type's shorthand")
    .option('-w, --wait', 'wait for the task to end and print its result')
    .option('--timeout <ms>', "the task's time limit in milliseconds", intOption('--timeout', 1, 3_600_000))
    .option('--max-attempts <n>', 'attempts before the task fails', intOption('--max-attempts', 1, 20))
    .option('--idempotency-key <key>', 'submitting the same key again returns the same task')
    .option('--json', 'print machine-readable JSON')
    .option('--trace', "send a W3C traceparent of a new trace and print its trace id on stderr (spans go to the services' OTLP endpoint)")
    .option('--algorithm <name>', 'hash: sha256 (default), sha1, sha512 or md5')
    .option('--encoding <name>', 'hash: hex (default) or base64')
    .option('--text <text>', 'image: text drawn on the image')
    .option('--width <px>', 'image: width in pixels')
    .option('--height <px>', 'image: height in pixels')
    .addOption(new Option('--format <format>', 'image: png (default) or jpeg'))
    .option('--out <file>', 'image: write the decoded image here (implies --wait)')
    .addHelpText(
      'after',
      `\nShorthands:\n${Object.values(SHORTHANDS)
        .map((s) => `  taskmesh submit ${s}`)
        .join(
          '\n',
        )}\n\nExamples:\n  taskmesh submit reverse hello --wait\n  taskmesh submit reverse '{"text":"hi"}'\n  taskmesh submit sum 1 2 3 --wait\n  taskmesh submit image --text hi --out frame.png`,
    )
    .action(async (type: string, args: string[], options: SubmitOptions) => {
      if (options.out !== undefined && type !== 'image') throw usageError(`--out applies only to image tasks, not ${type}`);
      const traceId = options.trace === true ? randomTraceId() : undefined;
      const ctx = context(traceId === undefined ? {} : { headers: { traceparent: formatTraceparent(traceId, randomSpanId()) } });
      if (traceId !== undefined) ctx.err(`trace ${traceId}`);
      if (!Object.hasOwn(SHORTHANDS, type)) {
        // Not a type with a shorthand: the dispatcher says whether it knows it at all.
        const known = (await ctx.api.types()).map((t) => t.name);
        if (!known.includes(type)) throw usageError(`unknown task type "${type}"; known types: ${known.join(', ')}`);
      }
      const request = buildSubmitRequest(type, args, options);
      if (!options.wait && options.out === undefined) {
        const { id, status } = await ctx.api.submit(request);
        ctx.out(options.json ? JSON.stringify({ id, status }) : id);
        return;
      }
      const first = await ctx.api.submitAndWait(request, SUBMIT_WAIT_MS);
      const record = 'type' in first && isFinalStatus(first.status) ? first : await waitForTask(ctx.api, first.id, { signal: ctx.signal });
      await reportOutcome(ctx, record, { json: options.json, out: options.out });
    });
}
