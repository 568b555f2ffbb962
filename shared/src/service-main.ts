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

/**
 * Whether an API may open without a token, or exit 2 saying why not: TASKMESH_PUBLISHED_ON says
 * where the deployment publishes the service's port (the compose files set it from
 * TASKMESH_PUBLISH_ADDRESS; the Swarm stack, which cannot publish on one address, to 0.0.0.0).
 * Published beyond loopback with no TASKMESH_API_TOKEN, the API (bulk cancel, payloads, container
 * logs) is anyone's on the network: the service refuses to start unless TASKMESH_ALLOW_OPEN_API=1
 * says the network is trusted. Returns a warning to log when it starts open.
 */
export function openApiCheckOrExit(service: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const publishedOn = (env.TASKMESH_PUBLISHED_ON ?? '').trim().toLowerCase();
  const token = env.TASKMESH_API_TOKEN ?? '';
  if (publishedOn === '' || token !== '' || isLoopback(publishedOn)) return undefined;
  const allow = env.TASKMESH_ALLOW_OPEN_API;
  if (allow === '1' || allow === 'true' || allow === 'yes')
    return `the API is published on ${publishedOn} without TASKMESH_API_TOKEN (TASKMESH_ALLOW_OPEN_API): anyone on the network can use it`;
  process.stderr.write(
    `${service}: the port is published on ${publishedOn} (TASKMESH_PUBLISHED_ON) and TASKMESH_API_TOKEN is not set: anyone on the network would get the API. Set TASKMESH_API_TOKEN, publish on 127.0.0.1, or set TASKMESH_ALLOW_OPEN_API=1 on a network you trust\n`,
  );
  process.exit(2);
}

const isLoopback = (address: string): boolean =>
  address === 'localhost' || address === '::1' || address === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(address);

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
