#!/usr/bin/env node
import { ConfigError, createLogger, logReady, loadConfig, resolveSecret } from '@taskmesh/shared';
import { workerEnvSpec, workerSettings } from './config.js';
import { TASK_TYPES, findTaskType, knownTypes } from './types/index.js';
import { startWorkerService, type WorkerService } from './worker-service.js';

/**
 * `worker <type>`: one process serving one task type over UDP, registered at the nameservice.
 * Reads TASKMESH_* variables, wires the service, and closes it cleanly on SIGTERM/SIGINT.
 */
function usage(): string {
  const lines = TASK_TYPES.map((t) => `  ${t.name.padEnd(8)} ${t.description}`);
  return `usage: taskmesh-worker <type>\n\ntypes:\n${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(usage());
    return;
  }
  const type = arg === undefined ? undefined : findTaskType(arg);
  if (type === undefined) {
    const what = arg === undefined ? 'no task type given' : `unknown task type "${arg}"`;
    process.stderr.write(`worker: ${what}; known types: ${knownTypes().join(', ')}\n`);
    process.exit(2);
  }
  let config;
  try {
    config = loadConfig(workerEnvSpec);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`worker: ${err.message}\n`);
    process.exit(2);
  }
  const settings = workerSettings(config, type);
  const jsonLogs = !process.stdout.isTTY;
  const logger = createLogger({ service: 'worker', level: settings.logLevel, json: jsonLogs }).child({ worker: settings.name });
  const { secret, isDefault } = resolveSecret(process.env);
  if (isDefault) {
    logger.warn('TASKMESH_SECRET is not set: using the PUBLIC DEVELOPMENT SECRET. Anyone can send this worker tasks. Set TASKMESH_SECRET outside development.', {
      event: 'insecure-secret',
    });
  }

  let service: WorkerService | undefined;
  let stopping = false;
  const stop = (reason: string, code: number): void => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the drain.
      logger.warn(`${reason} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    logger.info(`${reason}: closing`, { event: 'closing', reason });
    const closed = service === undefined ? Promise.resolve() : service.close();
    void closed.finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  service = await startWorkerService({
    type,
    settings,
    secret,
    logger,
    jsonLogs,
    onFatal: (err) => {
      logger.error(`heartbeat thread failed: ${err.message}`);
      stop('fatal', 1);
    },
  });
  let record;
  try {
    record = await service.registered;
  } catch {
    return; // stopped before it could register
  }
  logReady(logger, {
    udp: service.udpPort,
    name: service.name,
    type: service.type,
    advertise: record.host,
    concurrency: settings.concurrency,
    queueSize: settings.queueSize,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`worker: cannot start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
