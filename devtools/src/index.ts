/** Public names of @taskmesh/devtools: the local runner core, workers.json, compose generation. */
export {
  WORKER_TYPES,
  MAX_REPLICAS,
  WorkerSpec,
  WorkersConfig,
  DEFAULT_WORKERS_CONFIG,
  WorkersConfigError,
  parseWorkersConfig,
  loadWorkersConfig,
  workerEnv,
} from './workers-config.js';
export {
  Supervisor,
  systemClock,
  spawnNode,
  DEFAULT_RESTART_POLICY,
  DEFAULT_STABLE_AFTER_MS,
  DEFAULT_STOP_GRACE_MS,
} from './supervisor.js';
export type { ServiceSpec, ChildHandle, SpawnFn, Clock, ExitInfo, SupervisorOptions } from './supervisor.js';
export { localServices, workerProcessNames } from './local-services.js';
export type { LocalServicesOptions } from './local-services.js';
export { formatLine, renderJsonLine, colorOf } from './line-format.js';
export type { LineFormatOptions } from './line-format.js';
export { AtomicJsonWriter } from './state-file.js';
export {
  COMPOSE_FILE,
  STACK_FILE,
  DEFAULT_NODE_IMAGE,
  composeDocument,
  stackDocument,
  renderYaml,
  generateDeployment,
} from './compose-file.js';
export { checkHttp, checkWorkerRegistered, localAddresses } from './healthcheck.js';
export type { HealthResult, WorkerCheckOptions } from './healthcheck.js';
