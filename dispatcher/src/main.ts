import { ConfigError, createLogger, logReady, loadConfig, resolveSecret } from '@taskmesh/shared';
import { dispatcherEnvSpec } from './config.js';
import { createDispatcher } from './dispatcher.js';

/** Entry point: reads the environment, starts the dispatcher, stops it on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(dispatcherEnvSpec);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dispatcher: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ service: 'dispatcher', level: config.logLevel });
  const { secret, isDefault } = resolveSecret();
  if (isDefault) logger.warn('TASKMESH_SECRET is not set: using the development secret; set it in production');

  const dispatcher = await createDispatcher({ ...config, secret, logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const force = setTimeout(() => {
      logger.warn('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    dispatcher.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logReady(logger, { http: dispatcher.port, udp: dispatcher.udpPort });
}

main().catch((err: unknown) => {
  process.stderr.write(`dispatcher: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
