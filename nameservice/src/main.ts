import {
  createLogger,
  envInt,
  envList,
  envLogLevel,
  httpLimitsEnvSpec,
  envPort,
  envString,
  exitOnSignals,
  loadConfigOrExit,
  logReady,
  runMain,
  secretOrExit,
} from '@taskmesh/shared';
import { MAX_UNSIGNED_WATCHERS, MAX_UNSIGNED_WATCHERS_PER_CLIENT, MAX_WATCHERS, MAX_WORKERS, NAMESERVICE_DEFAULTS } from './constants.js';
import { createNameservice } from './nameservice.js';

/** The nameservice process: reads TASKMESH_* variables, starts serving, closes cleanly on a signal. */
const spec = {
  port: { env: 'TASKMESH_NAMESERVICE_PORT', schema: envPort(NAMESERVICE_DEFAULTS.port) },
  host: { env: 'TASKMESH_NAMESERVICE_HOST', schema: envString(NAMESERVICE_DEFAULTS.host) },
  registryFile: { env: 'TASKMESH_REGISTRY_FILE', schema: envString(NAMESERVICE_DEFAULTS.registryFile) },
  maxWorkers: { env: 'TASKMESH_NAMESERVICE_MAX_WORKERS', schema: envInt(MAX_WORKERS, 1, 1_000_000) },
  maxWatchers: { env: 'TASKMESH_NAMESERVICE_MAX_WATCHERS', schema: envInt(MAX_WATCHERS, 1, 10_000) },
  maxUnsignedWatchers: { env: 'TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS', schema: envInt(MAX_UNSIGNED_WATCHERS, 0, 10_000) },
  maxUnsignedWatchersPerClient: {
    env: 'TASKMESH_NAMESERVICE_MAX_UNSIGNED_WATCHERS_PER_CLIENT',
    schema: envInt(MAX_UNSIGNED_WATCHERS_PER_CLIENT, 0, 10_000),
  },
  allowedHosts: { env: 'TASKMESH_ALLOWED_HOSTS', schema: envList() },
  allowedOrigins: { env: 'TASKMESH_ALLOWED_ORIGINS', schema: envList() },
  ...httpLimitsEnvSpec,
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
  const { logLevel: _level, ...options } = config;
  const ns = await createNameservice({ ...options, secret, logger });

  exitOnSignals({ logger, close: () => ns.close() });
  logReady(logger, { http: ns.port, registryFile: config.registryFile, restoredFrom: ns.loadedFrom });
}

runMain('nameservice', main);
