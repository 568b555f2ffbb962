#!/usr/bin/env node
import { createLogger, exitOnSignals, frameKey, loadConfigOrExit, logReady, nameserviceKey, runMain, secretOrExit } from '@taskmesh/shared';
import { workerEnvSpec, workerSettings } from './config.js';
import { TASK_TYPES, findTaskType, knownTypes } from './task-types/index.js';
import { TaskModuleError, loadTaskModule } from './task-types/user-module.js';
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
  const config = loadConfigOrExit('worker', workerEnvSpec);
  const unknown = (): never => {
    const what = arg === undefined ? 'no task type given' : `unknown task type "${arg}"`;
    process.stderr.write(`worker: ${what}; known types: ${knownTypes().join(', ')} (or a module of your own: TASKMESH_WORKER_MODULE)\n`);
    process.exit(2);
  };
  if (arg === undefined || (config.module === undefined && findTaskType(arg) === undefined)) unknown();
  // Before any module of the user's is loaded: the secret is read, the two keys this worker needs
  // are derived from it, and it leaves the environment, so a module (and its npm dependencies)
  // never reads it there. The main thread keeps the frame key; the nameservice key goes to the
  // heartbeat thread only.
  const { secret, isDefault } = secretOrExit('worker');
  const keys = { frame: frameKey(secret), nameservice: nameserviceKey(secret) };
  delete process.env.TASKMESH_SECRET;
  let type = config.module === undefined ? findTaskType(arg!) : undefined;
  if (config.module !== undefined) {
    try {
      type = await loadTaskModule(config.module, arg!);
    } catch (err) {
      if (!(err instanceof TaskModuleError)) throw err;
      process.stderr.write(`worker: ${err.message} (TASKMESH_WORKER_MODULE)\n`);
      process.exit(2);
    }
  }
  if (type === undefined) return unknown();
  const settings = workerSettings(config, type);
  const jsonLogs = !process.stdout.isTTY;
  const logger = createLogger({ service: 'worker', level: settings.logLevel, json: jsonLogs }).child({ worker: settings.name });
  if (isDefault) {
    logger.warn(
      'TASKMESH_ALLOW_DEV_SECRET: using the PUBLIC DEVELOPMENT SECRET. Anyone can send this worker tasks and register workers. Set TASKMESH_SECRET outside development.',
      {
        event: 'insecure-secret',
      },
    );
  }

  const late: { service?: WorkerService } = {};
  // The drain has its own bound (TASKMESH_WORKER_DRAIN_TIMEOUT_MS); a second signal skips it.
  const stop = exitOnSignals({ logger, close: () => late.service?.close() ?? Promise.resolve() });

  const service = await startWorkerService({
    type,
    settings,
    keys,
    logger,
    jsonLogs,
    onFatal: (err) => {
      logger.error(`heartbeat thread failed: ${err.message}`);
      stop('fatal', 1);
    },
  });
  late.service = service;
  let record;
  try {
    record = await service.registered;
  } catch {
    return; // stopped before it could register
  }
  logReady(logger, {
    udp: service.udpPort,
    endpointId: service.endpointId,
    name: service.name,
    type: service.type,
    advertise: record.host,
    concurrency: settings.concurrency,
    queueSize: settings.queueSize,
  });
}

runMain('worker', main);
