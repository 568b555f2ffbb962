import { ConfigError, loadConfig, resolveSecret, type ConfigOf, type EnvSpec } from './config.js';
import type { Logger } from './logger.js';

/**
 * What every service's main.ts does the same way: read its config once (a bad variable is one
 * line on stderr and exit 2), close cleanly on SIGTERM/SIGINT, and report a failed start as one
 * message and exit 1.
 */

/** The service's config, or exit 2 with the message naming the bad variable. */
export function loadConfigOrExit<S extends EnvSpec>(service: string, spec: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  try {
    return loadConfig(spec, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}

/** TASKMESH_SECRET, or exit 2 with the message saying what is wrong with it (see resolveSecret). */
export function secretOrExit(service: string, env: NodeJS.ProcessEnv = process.env): { secret: string; isDefault: boolean } {
  try {
    return resolveSecret(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}

export interface ShutdownOptions {
  logger: Logger;
  /** Closes the service; called once. */
  close: () => Promise<void>;
  /** A close still running after this long exits 1; unset waits as long as close takes. */
  forceExitAfterMs?: number;
}

/**
 * SIGTERM and SIGINT close the service once and exit 0 (1 if closing fails or hangs); a second
 * signal means the operator will not wait for the drain and exits 1 at once. The returned
 * function stops the same way for other reasons, e.g. a fatal error, with its own exit code.
 */
export function exitOnSignals(options: ShutdownOptions): (reason: string, code?: number) => void {
  const { logger } = options;
  let stopping = false;
  const stop = (reason: string, code = 0): void => {
    if (stopping) {
      logger.warn(`${reason} again: exiting without waiting`, { event: 'forced-exit', reason });
      process.exit(1);
    }
    stopping = true;
    logger.info(`${reason}: closing`, { event: 'closing', reason });
    if (options.forceExitAfterMs !== undefined) {
      setTimeout(() => {
        logger.warn(`closing took over ${options.forceExitAfterMs} ms: exiting`, { event: 'forced-exit', reason });
        process.exit(1);
      }, options.forceExitAfterMs).unref();
    }
    options.close().then(
      () => process.exit(code),
      (err: unknown) => {
        logger.error(`close failed: ${err instanceof Error ? err.message : String(err)}`, { event: 'close-failed' });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Started by the runner with an IPC channel: the channel closing means the runner is gone.
  if (process.channel !== undefined) {
    process.channel.unref();
    process.once('disconnect', () => stop('the runner exited'));
  }
  return stop;
}

/** Runs a service's main; a failure to start is one message on stderr and exit 1. */
export function runMain(service: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${service}: cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
