#!/usr/bin/env node
import { CommanderError } from 'commander';
import type { ApiClient } from './api-client.js';
import { EXIT, errorLine, exitCodeOf } from './exit-codes.js';
import { buildProgram } from './program.js';
import { printable } from './terminal-text.js';

/**
 * The `taskmesh` CLI: reads the environment, wires commander and maps every failure to one line
 * on stderr and an exit code (see EXIT). Stack traces only with --verbose.
 */
async function main(argv: string[]): Promise<number> {
  const abort = new AbortController();
  const clients: ApiClient[] = [];
  let interrupted = 0;
  process.on('SIGINT', () => {
    // First Ctrl-C stops gracefully (watch exits 0); a second one does not wait.
    if (++interrupted > 1) process.exit(130);
    abort.abort(new Error('interrupted'));
  });
  const program = buildProgram({
    env: { dispatcherUrl: process.env.TASKMESH_DISPATCHER_URL || undefined, token: process.env.TASKMESH_API_TOKEN || undefined },
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY: Boolean(process.stderr.isTTY),
    signal: abort.signal,
    clients,
  });
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const shown = argv.includes('--raw') ? (text: string) => text : printable;
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message; help and version are not errors.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    // Ctrl-C aborted a request or a wait: not an error worth a message beyond saying so.
    if (abort.signal.aborted) {
      process.stderr.write('interrupted\n');
      return 130;
    }
    process.stderr.write(`${shown(errorLine(err))}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return exitCodeOf(err);
  } finally {
    for (const c of clients) c.close();
  }
}

const code = await main(process.argv);
// Let stdout drain (pipes are asynchronous) before exiting, so nothing lingering keeps us alive.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
