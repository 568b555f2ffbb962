import { SubmitTaskRequest } from '@taskmesh/shared';

/** One problem in a batch file, by 1-based line number. */
export interface BatchLineError {
  line: number;
  message: string;
}

export interface ParsedBatch {
  tasks: SubmitTaskRequest[];
  /** The line each task came from, parallel to `tasks`. */
  lines: number[];
  errors: BatchLineError[];
}

/**
 * Parses a JSON-lines batch file: one `{type, payload, timeoutMs?, maxAttempts?, idempotencyKey?}`
 * per line; blank lines and lines starting with `#` are skipped. Every bad line is reported with
 * its number, so the whole file can be fixed before anything is sent.
 */
export function parseBatchFile(text: string): ParsedBatch {
  const out: ParsedBatch = { tasks: [], lines: [], errors: [] };
  const rows = text.split(/\r?\n/);
  rows.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      out.errors.push({ line, message: `not valid JSON (${(err as Error).message})` });
      return;
    }
    const parsed = SubmitTaskRequest.safeParse(value);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
      out.errors.push({ line, message: why });
      return;
    }
    out.tasks.push(value as SubmitTaskRequest);
    out.lines.push(line);
  });
  return out;
}

/** Splits into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `fn` over items with at most `concurrency` at once; results keep the input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return results;
}
