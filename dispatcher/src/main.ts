import { createLogger, exitOnSignals, loadConfigOrExit, logReady, openApiCheckOrExit, runMain, secretOrExit } from '@taskmesh/shared';
import { dispatcherEnvSpec } from './config.js';
import { createDispatcher } from './dispatcher.js';
import { JournalOpenError } from './journal/level-store.js';

/** Entry point: reads the environment, starts the dispatcher, stops it on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('dispatcher', dispatcherEnvSpec);
  const openApi = openApiCheckOrExit('dispatcher');
  const logger = createLogger({ service: 'dispatcher', level: config.logLevel });
  if (openApi !== undefined) logger.warn(openApi, { event: 'open-api' });
  const { secret, isDefault } = secretOrExit('dispatcher');
  if (isDefault)
    logger.warn(
      'TASKMESH_ALLOW_DEV_SECRET: using the PUBLIC DEVELOPMENT SECRET: anyone can forge tasks and results. Set TASKMESH_SECRET outside development.',
      { event: 'insecure-secret' },
    );

  let dispatcher;
  try {
    dispatcher = await createDispatcher({ ...config, secret, logger });
  } catch (err) {
    // Not damage (that is repaired or moved aside): restarting would only fail the same way.
    if (!(err instanceof JournalOpenError)) throw err;
    process.stderr.write(`dispatcher: ${err.message}\n`);
    process.exit(2);
  }
  exitOnSignals({ logger, close: () => dispatcher.close(), forceExitAfterMs: 10_000 });
  logReady(logger, { http: dispatcher.port, udp: dispatcher.udpPort });
}

runMain('dispatcher', main);
