import { InvalidArgumentError } from 'commander';
import type { ApiClient } from '../api-client.js';
import type { JsonHttpBackend } from '../json-http.js';

/**
 * What every command runs with: the API client and the process's I/O, handed in by main.ts so
 * commands never read globals themselves.
 */
export interface CliContext {
  api: ApiClient;
  /** Writes one line (or block) to stdout. */
  out(text: string): void;
  /** Writes one line to stderr. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars are shown only then). */
  isTTY: boolean;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  now(): number;
}

/** Builds a context for a command once its global options are known. */
export type ContextFactory = (options: {
  maxSockets?: number;
  backend?: JsonHttpBackend;
  /** Sent with every request of the command (submit --trace: a traceparent). */
  headers?: Record<string, string>;
}) => CliContext;

/** A commander option parser for whole numbers within a range; bad values are usage errors. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
