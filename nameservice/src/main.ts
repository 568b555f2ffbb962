import {
  createLogger,
  envInt,
  envLogLevel,
  envPort,
  envString,
  exitOnSignals,
  loadConfigOrExit,
  logReady,
  runMain,
  secretOrExit,
} from '@taskmesh/shared';
import { MAX_WATCHERS, MAX_WORKERS, NAMESERVICE_DEFAULTS } from './constants.js';
import { createNameservice } from './nameservice.js';

/** The nameservice process: reads TASKMESH_* variables, starts serving, closes cleanly on a signal. */
const spec = {
  port: { env: 'TASKMESH_NAMESERVICE_PORT', schema: envPort(NAMESERVICE_DEFAULTS.port) },
  host: { env: 'TASKMESH_NAMESERVICE_HOST', schema: envString(NAMESERVICE_DEFAULTS.host) },
  registryFile: { env: 'TASKMESH_REGISTRY_FILE', schema: envString(NAMESERVICE_DEFAULTS.registryFile) },
  maxWorkers: { env: 'TASKMESH_NAMESERVICE_MAX_WORKERS', schema: envInt(MAX_WORKERS, 1, 1_000_000) },
  maxWatchers: { env: 'TASKMESH_NAMESERVICE_MAX_WATCHERS', schema: envInt(MAX_WATCHERS, 1, 10_000) },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

async function main(): Promise<void> {
  const config = loadConfigOrExit('nameservice', spec);
  const logger = createLogger({ service: 'nameservice', level: config.logLevel });
  const { secret, isDefault } = secretOrExit('nameservice');
  if (isDefault)
    logger.warn(
      'TASKMESH_ALLOW_DEV_SECRET: using the PUBLIC DEVELOPMENT SECRET: anyone can register workers. Set TASKMESH_SECRET outside development.',
      { event: 'insecure-secret' },
    );
  const ns = await createNameservice({
    registryFile: config.registryFile,
    secret,
    maxWorkers: config.maxWorkers,
    maxWatchers: config.maxWatchers,
    port: config.port,
    host: config.host,
    logger,
  });

  exitOnSignals({ logger, close: () => ns.close() });
  logReady(logger, { http: ns.port, registryFile: config.registryFile, restoredFrom: ns.loadedFrom });
}

runMain('nameservice', main);
