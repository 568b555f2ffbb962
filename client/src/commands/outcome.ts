import { writeFile } from 'node:fs/promises';
import type { TaskRecord } from '@taskmesh/shared';
import { CliError, EXIT } from '../exit-codes.js';
import { formatFailure, formatResult, isImageResult } from '../format.js';
import type { CliContext } from './context.js';

export interface OutcomeOptions {
  json?: boolean;
  /** Where to write a decoded image result. */
  out?: string;
}

/**
 * Prints an ended task the way `submit --wait` and `wait` do: the readable result (or the
 * record as JSON) on stdout; a failure as `failed: CODE message` on stderr with exit code 1.
 */
export async function reportOutcome(ctx: CliContext, record: TaskRecord, options: OutcomeOptions): Promise<void> {
  let written: string | undefined;
  if (record.status === 'succeeded' && options.out !== undefined) {
    if (!isImageResult(record.result)) throw new CliError(EXIT.USAGE, `--out: task ${record.id} did not return an image`);
    const bytes = Buffer.from(record.result.data, 'base64');
    try {
      await writeFile(options.out, bytes);
    } catch (err) {
      throw new CliError(EXIT.USAGE, `--out: cannot write ${options.out}: ${(err as Error).message}`, { cause: err });
    }
    written = options.out;
  }
  if (options.json) ctx.out(JSON.stringify(record));
  else if (record.status === 'succeeded') ctx.out(written ? `${formatResult(record.result)} → ${written}` : formatResult(record.result));
  if (record.status !== 'succeeded') throw new CliError(EXIT.TASK_FAILED, formatFailure(record));
}
