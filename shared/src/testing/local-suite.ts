import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET, spawnService, type RunningService } from './spawn-service.js';

/**
 * Starts real taskmesh processes on 127.0.0.1 with ephemeral ports, for integration tests and
 * benchmarks: a nameservice, optionally a dispatcher and monitoring, and any number of workers.
 * Each service is the compiled `dist/main.js` of its workspace.
 */
export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const serviceScript = (workspace: string): string => join(REPO_ROOT, workspace, 'dist', 'main.js');

export { TEST_SECRET } from './spawn-service.js';

export interface LocalSuiteOptions {
  /** Worker types to start, one process each; repeat a type for several. */
  workers?: string[];
  dispatcher?: boolean;
  monitoring?: boolean;
  /** Extra environment for every process. */
  env?: NodeJS.ProcessEnv;
  dispatcherEnv?: NodeJS.ProcessEnv;
  workerEnv?: NodeJS.ProcessEnv;
  monitoringEnv?: NodeJS.ProcessEnv;
  nameserviceEnv?: NodeJS.ProcessEnv;
  /** Options for node itself in every process (e.g. `--cpu-prof --cpu-prof-dir=…` for profiling). */
  nodeArgs?: string[];
}

export interface LocalSuite {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly nameservice: RunningService;
  readonly nameserviceUrl: string;
  readonly dispatcher?: RunningService;
  readonly dispatcherUrl?: string;
  readonly monitoring?: RunningService;
  readonly monitoringUrl?: string;
  readonly workers: RunningService[];
  /** Starts one more worker of a type. */
  addWorker(type: string, env?: NodeJS.ProcessEnv): Promise<RunningService>;
  /** Starts (again) a nameservice on the same registry file and port. */
  restartNameservice(): Promise<RunningService>;
  /**
   * Kills the dispatcher with `signal` (SIGKILL: a crash) and starts it again on the same ports
   * and journal; `dispatcher` then names the new process.
   */
  restartDispatcher(signal?: NodeJS.Signals): Promise<RunningService>;
  /** Stops every process (SIGTERM, then SIGKILL after a grace period) and removes the temp dir. */
  stop(): Promise<void>;
}

async function stopService(svc: RunningService, graceMs = 5000): Promise<void> {
  if (svc.proc.exitCode !== null || svc.proc.signalCode !== null) return;
  const timer = setTimeout(() => svc.proc.kill('SIGKILL'), graceMs);
  await svc.kill('SIGTERM');
  clearTimeout(timer);
}

export async function startLocalSuite(options: LocalSuiteOptions = {}): Promise<LocalSuite> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-suite-'));
  const env: NodeJS.ProcessEnv = { TASKMESH_SECRET: TEST_SECRET, TASKMESH_LOG_LEVEL: 'info', ...options.env };
  const started: RunningService[] = [];
  const registryFile = join(dir, 'registry.json');
  try {
    let nameservice = await spawnService({
      nodeArgs: options.nodeArgs,
      name: 'nameservice',
      script: serviceScript('nameservice'),
      env: { ...env, TASKMESH_NAMESERVICE_PORT: '0', TASKMESH_REGISTRY_FILE: registryFile, ...options.nameserviceEnv },
    });
    started.push(nameservice);
    const nameservicePort = nameservice.ready.http!;
    const nameserviceUrl = `http://127.0.0.1:${nameservicePort}`;
    const common = { ...env, TASKMESH_NAMESERVICE_URL: nameserviceUrl };

    const workers: RunningService[] = [];
    const addWorker = async (type: string, extra?: NodeJS.ProcessEnv): Promise<RunningService> => {
      const w = await spawnService({
        nodeArgs: options.nodeArgs,
        name: `worker-${type}`,
        script: serviceScript('worker'),
        args: [type],
        env: { ...common, TASKMESH_WORKER_HOST: '127.0.0.1', TASKMESH_WORKER_PORT: '0', ...options.workerEnv, ...extra },
      });
      started.push(w);
      workers.push(w);
      return w;
    };
    await Promise.all((options.workers ?? []).map((t) => addWorker(t)));

    let dispatcher: RunningService | undefined;
    let dispatcherUrl: string | undefined;
    const dispatcherEnv: NodeJS.ProcessEnv = {
      ...common,
      TASKMESH_DISPATCHER_PORT: '0',
      TASKMESH_DISPATCHER_HOST: '127.0.0.1',
      TASKMESH_JOURNAL_PATH: join(dir, 'dispatcher-journal'),
      ...options.dispatcherEnv,
    };
    const spawnDispatcher = async (): Promise<RunningService> => {
      const svc = await spawnService({
        nodeArgs: options.nodeArgs,
        name: 'dispatcher',
        script: serviceScript('dispatcher'),
        env: dispatcherEnv,
      });
      started.push(svc);
      return svc;
    };
    if (options.dispatcher ?? true) {
      dispatcher = await spawnDispatcher();
      dispatcherUrl = `http://127.0.0.1:${dispatcher.ready.http!}`;
      // A restart keeps the addresses: clients and workers find it where it was.
      dispatcherEnv.TASKMESH_DISPATCHER_PORT = String(dispatcher.ready.http);
      dispatcherEnv.TASKMESH_DISPATCHER_UDP_PORT = String(dispatcher.ready.udp);
    }

    let monitoring: RunningService | undefined;
    let monitoringUrl: string | undefined;
    if (options.monitoring ?? false) {
      monitoring = await spawnService({
        nodeArgs: options.nodeArgs,
        name: 'monitoring',
        script: serviceScript('monitoring'),
        env: {
          ...common,
          TASKMESH_MONITORING_PORT: '0',
          TASKMESH_MONITORING_HOST: '127.0.0.1',
          ...(dispatcherUrl ? { TASKMESH_DISPATCHER_URL: dispatcherUrl } : {}),
          ...options.monitoringEnv,
        },
      });
      started.push(monitoring);
      monitoringUrl = `http://127.0.0.1:${monitoring.ready.http!}`;
    }

    const suite: LocalSuite = {
      dir,
      env: common,
      get nameservice() {
        return nameservice;
      },
      nameserviceUrl,
      get dispatcher() {
        return dispatcher;
      },
      dispatcherUrl,
      monitoring,
      monitoringUrl,
      workers,
      addWorker,
      async restartNameservice() {
        await stopService(nameservice);
        nameservice = await spawnService({
          nodeArgs: options.nodeArgs,
          name: 'nameservice',
          script: serviceScript('nameservice'),
          env: {
            ...env,
            TASKMESH_NAMESERVICE_PORT: String(nameservicePort),
            TASKMESH_REGISTRY_FILE: registryFile,
            ...options.nameserviceEnv,
          },
        });
        started.push(nameservice);
        return nameservice;
      },
      async restartDispatcher(signal: NodeJS.Signals = 'SIGKILL') {
        if (dispatcher === undefined) throw new Error('this suite has no dispatcher');
        await dispatcher.kill(signal);
        dispatcher = await spawnDispatcher();
        return dispatcher;
      },
      async stop() {
        await Promise.allSettled(started.reverse().map((s) => stopService(s)));
        await rm(dir, { recursive: true, force: true });
      },
    };
    return suite;
  } catch (err) {
    await Promise.allSettled(started.map((s) => stopService(s, 1000)));
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
