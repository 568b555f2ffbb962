#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  ConfigError,
  DEFAULT_PORTS,
  NameserviceClient,
  RunnerChaosRequest,
  envInt,
  envString,
  loadConfig,
  type RunnerChaosAnswer,
} from '@taskmesh/shared';
import { formatLine } from './line-format.js';
import { describeTaken, takenPorts } from './port-check.js';
import { localServices } from './local-services.js';
import { LogFiles } from './log-files.js';
import { AtomicJsonWriter } from './state-file.js';
import { DEFAULT_STOP_GRACE_MS, Supervisor } from './supervisor.js';
import { loadWorkersConfig, WorkersConfigError } from './workers-config.js';

/**
 * `npm start`: runs the whole suite as local child processes with prefixed output, restarts
 * crashed services, writes the runner state file and stops everything on Ctrl-C or SIGTERM.
 */
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const spec = {
  host: { env: 'TASKMESH_RUNNER_HOST', schema: envString('127.0.0.1') },
  nameservicePort: { env: 'TASKMESH_NAMESERVICE_PORT', schema: port(DEFAULT_PORTS.nameservice) },
  dispatcherPort: { env: 'TASKMESH_DISPATCHER_PORT', schema: port(DEFAULT_PORTS.dispatcher) },
  monitoringPort: { env: 'TASKMESH_MONITORING_PORT', schema: port(DEFAULT_PORTS.monitoring) },
  workersFile: { env: 'TASKMESH_WORKERS_FILE', schema: envString(resolve(ROOT, 'workers.json')) },
  stateFile: { env: 'TASKMESH_RUNNER_STATE_FILE', schema: envString('./data/runner-state.json') },
  stopGraceMs: { env: 'TASKMESH_RUNNER_STOP_GRACE_MS', schema: envInt(DEFAULT_STOP_GRACE_MS, 100) },
};

const color = process.stdout.isTTY === true && !process.env.NO_COLOR;

async function main(): Promise<void> {
  const config = loadConfig(spec);
  const workers = await loadWorkersConfig(resolve(config.workersFile));
  const stateFile = resolve(config.stateFile);
  const monitoring = existsSync(resolve(ROOT, 'monitoring/dist/main.js'));
  // A port already taken (often a previous run still serving) stops the run at once, naming it,
  // instead of services that crash-loop against it.
  const variables: Record<string, string> = {
    nameservice: 'TASKMESH_NAMESERVICE_PORT',
    dispatcher: 'TASKMESH_DISPATCHER_PORT',
    monitoring: 'TASKMESH_MONITORING_PORT',
  };
  const wanted: Record<string, number> = { nameservice: config.nameservicePort, dispatcher: config.dispatcherPort };
  if (monitoring) wanted.monitoring = config.monitoringPort;
  const taken = await takenPorts(config.host, wanted);
  if (taken.length > 0) {
    for (const port of taken) process.stderr.write(`taskmesh runner: ${describeTaken(port, variables[port.service] ?? '')}\n`);
    process.exit(1);
  }
  // The services of one run share a secret of their own: nobody else's datagram or registration
  // is taken, and a newcomer has nothing to set. TASKMESH_SECRET, when given, is used instead.
  const secret = process.env.TASKMESH_SECRET || randomBytes(32).toString('hex');
  const services = localServices({
    root: ROOT,
    node: process.execPath,
    cwd: process.cwd(),
    baseEnv: { ...process.env, TASKMESH_SECRET: secret },
    host: config.host,
    ports: { nameservice: config.nameservicePort, dispatcher: config.dispatcherPort, monitoring: config.monitoringPort },
    stateFile,
    workers,
    monitoring,
  });
  const width = Math.max('runner'.length, ...services.map((s) => s.name.length));
  // Beside the state file, where monitoring finds them (a task's page shows a worker's lines).
  const logFiles = new LogFiles(resolve(dirname(stateFile), 'logs'));
  const print = (service: string, line: string, pid: number | null = process.pid): void => {
    process.stdout.write(`${formatLine(service, line, { width, color })}\n`);
    logFiles.write(service, line, pid);
  };
  const say = (line: string): void => print('runner', line);

  // A worker process that ends is reported to the nameservice at once (failover by push): the
  // dispatcher sends its tasks elsewhere now instead of after its keep-alive timeout.
  const workerServices = new Set(services.filter((s) => s.role === 'worker').map((s) => s.name));
  const nameservice = new NameserviceClient({ baseUrl: `http://${config.host}:${config.nameservicePort}`, secret });
  const reportDown = (service: string, pid: number, how: string): void => {
    nameservice
      .reportDown({ host: hostname(), pid, reason: `${service} (pid ${pid}) ${how}, seen by the runner` })
      .catch((err: Error) => say(`could not report ${service} down to the nameservice: ${err.message}`));
  };

  // Chaos controls (the dispatcher, TASKMESH_CHAOS=1): kill, pause and resume a worker this runner
  // started. A pause resumes by itself after its forMs, whatever happens to the dispatcher.
  const SIGNALS = { kill: 'SIGKILL', pause: 'SIGSTOP', resume: 'SIGCONT' } as const;
  const onChaos = (message: RunnerChaosRequest): { ok: boolean; message: string } => {
    const service = supervisor.signalWorker(message.pid, SIGNALS[message.action]);
    if (service === undefined) return { ok: false, message: `pid ${message.pid} is not a worker this runner started` };
    say(`chaos: ${message.action} ${service} (pid ${message.pid})${message.action === 'pause' ? ` for ${message.forMs} ms` : ''}`);
    if (message.action === 'pause') setTimeout(() => supervisor.signalWorker(message.pid, 'SIGCONT'), message.forMs).unref();
    const done = { kill: 'killed (SIGKILL)', pause: `paused (SIGSTOP) for ${message.forMs} ms`, resume: 'resumed (SIGCONT)' }[
      message.action
    ];
    return { ok: true, message: `${service} (pid ${message.pid}) ${done} by the runner` };
  };

  const writer = new AtomicJsonWriter(stateFile);
  const pendingReady = new Set(services.map((s) => s.name));
  const supervisor = new Supervisor({
    services,
    stopGraceMs: config.stopGraceMs,
    onLine: (service, line, _stream, pid) => print(service, line, pid),
    onState: (state) => {
      writer.write(state).catch((err: Error) => say(`cannot write ${stateFile}: ${err.message}`));
    },
    onExit: ({ service, pid, code, signal, restartInMs, cannotStart }) => {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!stopping && pid !== null && workerServices.has(service))
        reportDown(service, pid, signal ? `was killed by ${signal}` : `exited with ${how}`);
      if (cannotStart === true) say(`${service} cannot start as configured (${how}; its message is above): not restarting it`);
      else say(restartInMs === undefined ? `${service} stopped (${how})` : `${service} exited (${how}); restarting in ${restartInMs} ms`);
    },
    onMessage: (service, message, reply) => {
      const chaos = RunnerChaosRequest.safeParse(message);
      if (service !== 'dispatcher' || !chaos.success) return;
      const answer: RunnerChaosAnswer = { taskmesh: 'chaos-result', id: chaos.data.id, ...onChaos(chaos.data) };
      reply(answer);
    },
    onReady: (service, ready) => {
      const http = typeof ready.http === 'number' ? ready.http : undefined;
      if (service === 'dispatcher' && http) say(`API:       http://${config.host}:${http}`);
      if (service === 'monitoring' && http) say(`dashboard: http://${config.host}:${http}`);
      if (pendingReady.delete(service) && pendingReady.size === 0) {
        say(`all ${services.length} services ready; submit a task: npx taskmesh submit reverse hello --wait`);
      }
    },
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping ${services.length} services`);
    void supervisor
      .stop()
      .then(() => writer.write(supervisor.state()))
      .then(() => writer.flush())
      .then(() => logFiles.close())
      .then(
        () => {
          say('stopped');
          process.exit(0);
        },
        (err: Error) => {
          say(`stop failed: ${err.message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A closed terminal: the children run in their own process groups and would not hear of it.
  process.on('SIGHUP', () => stop('SIGHUP'));
  // Whatever ends this process, no child outlives it (a no-op after a clean stop).
  process.on('exit', () => supervisor.killAll('SIGKILL'));

  say(`starting ${services.map((s) => s.name).join(', ')}${monitoring ? '' : ' (monitoring is not built)'}`);
  say(`state file: ${stateFile}`);
  supervisor.start();
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof WorkersConfigError;
  process.stderr.write(`taskmesh runner: ${known ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`);
  process.exit(2);
});
