import { createLogger, exitOnSignals, loadConfigOrExit, logReady, resolveSecret, runMain } from '@taskmesh/shared';
import { dispatcherEnvSpec } from './config.js';
import { createDispatcher } from './dispatcher.js';

/** Entry point: reads the environment, starts the dispatcher, stops it on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('dispatcher', dispatcherEnvSpec);
  const logger = createLogger({ service: 'dispatcher', level: config.logLevel });
  const { secret, isDefault } = resolveSecret();
  if (isDefault) logger.warn('TASKMESH_SECRET is not set: using the development secret; set it in production');

  const dispatcher = await createDispatcher({ ...config, secret, logger });
  exitOnSignals({ logger, close: () => dispatcher.close(), forceExitAfterMs: 10_000 });
  logReady(logger, { http: dispatcher.port, udp: dispatcher.udpPort });
}

runMain('dispatcher', main);
