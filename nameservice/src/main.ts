import { DEFAULT_PORTS, createLogger, envLogLevel, envPort, envString, exitOnSignals, loadConfigOrExit, logReady, runMain } from '@taskmesh/shared';
import { createNameservice } from './nameservice.js';

/** The nameservice process: reads TASKMESH_* variables, starts serving, closes cleanly on a signal. */
const spec = {
  port: { env: 'TASKMESH_NAMESERVICE_PORT', schema: envPort(DEFAULT_PORTS.nameservice) },
  host: { env: 'TASKMESH_NAMESERVICE_HOST', schema: envString('0.0.0.0') },
  registryFile: { env: 'TASKMESH_REGISTRY_FILE', schema: envString('./data/registry.json') },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

async function main(): Promise<void> {
  const config = loadConfigOrExit('nameservice', spec);
  const logger = createLogger({ service: 'nameservice', level: config.logLevel });
  const ns = await createNameservice({ registryFile: config.registryFile, port: config.port, host: config.host, logger });

  exitOnSignals({ logger, close: () => ns.close() });
  logReady(logger, { http: ns.port, registryFile: config.registryFile, restoredFrom: ns.loadedFrom });
}

runMain('nameservice', main);
