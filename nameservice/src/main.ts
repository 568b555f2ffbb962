import { ConfigError, DEFAULT_PORTS, createLogger, logReady, envLogLevel, envPort, envString, loadConfig } from '@taskmesh/shared';
import { createNameservice } from './nameservice.js';

/** The nameservice process: reads TASKMESH_* variables, starts serving, closes cleanly on a signal. */
const spec = {
  port: { env: 'TASKMESH_NAMESERVICE_PORT', schema: envPort(DEFAULT_PORTS.nameservice) },
  host: { env: 'TASKMESH_NAMESERVICE_HOST', schema: envString('0.0.0.0') },
  registryFile: { env: 'TASKMESH_REGISTRY_FILE', schema: envString('./data/registry.json') },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(spec);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`nameservice: ${err.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'nameservice', level: config.logLevel });
  const ns = await createNameservice({ registryFile: config.registryFile, port: config.port, host: config.host, logger });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: closing`, { event: 'closing', signal });
    ns.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error(`close failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  logReady(logger, { http: ns.port, registryFile: config.registryFile, restoredFrom: ns.loadedFrom });
}

main().catch((err: unknown) => {
  process.stderr.write(`nameservice: cannot start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
