import { TaskmeshError } from '@taskmesh/shared';

/**
 * The CLI's exit codes. Scripts branch on them, so each failure class has its own:
 * a task that failed is not the same as a typo on the command line or a dispatcher that is down.
 */
export const EXIT = {
  OK: 0,
  /** A task (or a task of a batch) failed or was cancelled. */
  TASK_FAILED: 1,
  /** Bad arguments, a bad payload or a bad batch file: nothing was sent. */
  USAGE: 2,
  /** The dispatcher could not be reached, answered 5xx, or we gave up waiting. */
  UNAVAILABLE: 3,
  /** The dispatcher rejected the request (4xx: unknown task, invalid payload, unauthorized…). */
  REJECTED: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as printed at the end of `--help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the task failed or was cancelled (batch: at least one did)
  2  usage error: bad arguments, payload or batch file (nothing was sent)
  3  dispatcher unreachable, server error, or gave up waiting
  4  the dispatcher rejected the request (its error code and message are printed)`;

/** An error the CLI reports as one line and exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A usage error: bad arguments or input; nothing was sent. */
export const usageError = (message: string): CliError => new CliError(EXIT.USAGE, message);

/** Maps anything thrown to the exit code the CLI ends with. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof TaskmeshError) {
    // Errors the dispatcher sent back carry its HTTP status; 4xx means the request was refused.
    const status = 'httpStatus' in err && typeof err.httpStatus === 'number' ? err.httpStatus : err.status;
    return status >= 400 && status < 500 ? EXIT.REJECTED : EXIT.UNAVAILABLE;
  }
  return EXIT.UNAVAILABLE;
}

/** The one line printed on stderr for an error. */
export function errorLine(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof TaskmeshError) return err.code === 'UNAVAILABLE' ? err.message : `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
