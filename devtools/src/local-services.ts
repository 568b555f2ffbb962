import { join } from 'node:path';
import type { ServiceSpec } from './supervisor.js';
import { workerEnv, type WorkersConfig } from './workers-config.js';

/**
 * The service specs of a local run (`npm start`): the nameservice, the dispatcher, monitoring
 * (when built) and the workers of workers.json, each the compiled `dist/main.js` of its
 * workspace run by this node, wired to each other through TASKMESH_* variables.
 */
export interface LocalServicesOptions {
  /** Repository root: where the workspaces' dist folders are. */
  root: string;
  /** The node binary. */
  node: string;
  /** Working directory of every service (relative default paths such as ./data resolve here). */
  cwd: string;
  /** Environment inherited by every service. */
  baseEnv: NodeJS.ProcessEnv;
  /** Address the HTTP services bind and are reached at. */
  host: string;
  ports: { nameservice: number; dispatcher: number; monitoring: number };
  /** Passed to monitoring as TASKMESH_RUNNER_STATE_FILE. */
  stateFile: string;
  workers: WorkersConfig;
  /** Whether to start the monitoring service. */
  monitoring: boolean;
}

/** Names of a type's worker processes: `worker-reverse`, or `worker-reverse-1..n` for replicas. */
export function workerProcessNames(type: string, replicas: number): string[] {
  if (replicas === 1) return [`worker-${type}`];
  return Array.from({ length: replicas }, (_, i) => `worker-${type}-${i + 1}`);
}

export function localServices(options: LocalServicesOptions): ServiceSpec[] {
  const { root, node, cwd, host, ports } = options;
  const script = (workspace: string): string => join(root, workspace, 'dist', 'main.js');
  const urls = {
    nameservice: `http://${host}:${ports.nameservice}`,
    dispatcher: `http://${host}:${ports.dispatcher}`,
  };
  const env: NodeJS.ProcessEnv = {
    ...options.baseEnv,
    TASKMESH_NAMESERVICE_URL: urls.nameservice,
    TASKMESH_DISPATCHER_URL: urls.dispatcher,
  };
  const specs: ServiceSpec[] = [
    {
      name: 'nameservice',
      command: node,
      args: [script('nameservice')],
      cwd,
      stopTier: 0,
      env: { ...env, TASKMESH_NAMESERVICE_HOST: host, TASKMESH_NAMESERVICE_PORT: String(ports.nameservice) },
    },
    {
      name: 'dispatcher',
      command: node,
      args: [script('dispatcher')],
      cwd,
      stopTier: 1,
      env: { ...env, TASKMESH_DISPATCHER_HOST: host, TASKMESH_DISPATCHER_PORT: String(ports.dispatcher) },
    },
  ];
  if (options.monitoring) {
    specs.push({
      name: 'monitoring',
      command: node,
      args: [script('monitoring')],
      cwd,
      stopTier: 2,
      env: {
        ...env,
        TASKMESH_MONITORING_HOST: host,
        TASKMESH_MONITORING_PORT: String(ports.monitoring),
        TASKMESH_RUNNER_STATE_FILE: options.stateFile,
      },
    });
  }
  for (const [type, spec] of Object.entries(options.workers.workers)) {
    for (const name of workerProcessNames(type, spec.replicas)) {
      specs.push({
        name,
        command: node,
        args: [script('worker'), type],
        cwd,
        stopTier: 2,
        role: 'worker',
        // Locally every peer is on this machine: bind and advertise the loopback address.
        env: { ...env, TASKMESH_WORKER_HOST: '127.0.0.1', TASKMESH_RUNNER_SERVICE: name, ...workerEnv(spec) },
      });
    }
  }
  return specs;
}
