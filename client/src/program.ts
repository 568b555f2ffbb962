import { Command, Option } from 'commander';
import { ApiClient, DEFAULT_DISPATCHER_URL } from './api-client.js';
import { registerBatch } from './commands/batch.js';
import { registerBench } from './commands/bench.js';
import { registerCancel } from './commands/cancel.js';
import { registerChaos } from './commands/chaos.js';
import type { CliContext, ContextFactory } from './commands/context.js';
import { registerList } from './commands/list.js';
import { registerRetry } from './commands/retry.js';
import { registerStatus } from './commands/status.js';
import { registerSubmit } from './commands/submit.js';
import { registerWait } from './commands/wait.js';
import { registerWatch } from './commands/watch.js';
import { registerTypes } from './commands/types.js';
import { registerWorkers } from './commands/workers.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { printable } from './terminal-text.js';

/** What the program needs from the process; main.ts fills it from the real one. */
export interface ProgramIo {
  /** Defaults from the environment (TASKMESH_DISPATCHER_URL, TASKMESH_API_TOKEN). */
  env: { dispatcherUrl?: string; token?: string };
  out(this: void, text: string): void;
  err(this: void, text: string): void;
  isTTY: boolean;
  signal: AbortSignal;
  /** Every API client made, so main can close their sockets at exit. */
  clients: ApiClient[];
}

interface GlobalOptions {
  dispatcher: string;
  token?: string;
  verbose?: boolean;
  raw?: boolean;
}

/** A dispatcher that accepts a connection and never answers must not hang the CLI (long-polls add their wait). */
const REQUEST_TIMEOUT_MS = 30_000;

/** Builds the `taskmesh` commander program; main.ts parses argv with it. */
export function buildProgram(io: ProgramIo): Command {
  const program = new Command('taskmesh');
  program
    .description('Submit tasks to a taskmesh dispatcher and watch them run.')
    .version('0.1.0')
    .addOption(
      new Option('--dispatcher <url>', 'dispatcher base URL (env TASKMESH_DISPATCHER_URL)').default(
        io.env.dispatcherUrl ?? DEFAULT_DISPATCHER_URL,
      ),
    )
    .addOption(new Option('--token <token>', 'API bearer token (env TASKMESH_API_TOKEN)'))
    .option('-v, --verbose', 'print stack traces of errors')
    .option('--raw', 'print results and messages as they came, control characters included (else shown escaped)')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      // Usage errors stay one line, with a pointer to the help.
      outputError: (s, write) => write(`${s.trim().replace(/^error: /, '')} (see --help)`),
    });

  const context: ContextFactory = ({ maxSockets, backend, headers }) => {
    const globals = program.opts<GlobalOptions>();
    const baseUrl = validUrl(globals.dispatcher);
    const api = new ApiClient({
      baseUrl,
      token: globals.token ?? io.env.token,
      maxSockets,
      backend,
      headers,
      signal: io.signal,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    io.clients.push(api);
    const shown = globals.raw === true ? (text: string) => text : printable;
    const ctx: CliContext = {
      api,
      out: (text) => io.out(shown(text)),
      err: (text) => io.err(shown(text)),
      isTTY: io.isTTY,
      signal: io.signal,
      now: Date.now,
    };
    return ctx;
  };

  for (const register of [
    registerSubmit,
    registerWait,
    registerStatus,
    registerCancel,
    registerRetry,
    registerList,
    registerWorkers,
    registerTypes,
    registerChaos,
    registerWatch,
    registerBatch,
    registerBench,
  ]) {
    register(program, context);
  }
  // Subcommands share the program's error handling and output.
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput());
  }
  return program;
}

function validUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidUrlError(value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidUrlError(value);
  return value.replace(/\/+$/, '');
}

class InvalidUrlError extends CliError {
  constructor(value: string) {
    super(EXIT.USAGE, `--dispatcher: "${value}" is not an http(s) URL`);
  }
}
